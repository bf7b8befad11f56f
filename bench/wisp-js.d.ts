/** The part of wisp-js's client the bench uses (the package ships no types); see websocket-peers.ts. */
declare module '@mercuryworkshop/wisp-js/client' {
  export const client: { ClientConnection: new (url: string) => unknown };
}
