/**
 * The part of wisp-js's client the bench and tests use (the package ships no types); see websocket-peers.ts and
 * test/integration/compat-wisp*.test.ts (which narrow these further).
 */
declare module '@mercuryworkshop/wisp-js/client' {
  export const client: { ClientConnection: new (url: string) => unknown };
  /** Extension classes: `new X({ client_config })`. */
  export const extensions: {
    UDPExtension: new (o: object) => unknown;
    MOTDExtension: new (o: object) => unknown;
    PasswordAuthExtension: new (o: object) => unknown;
  };
}
