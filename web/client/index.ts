/** The wsocks client: `connect(url)` to a bridge, then `session.open({ host, port })`. See docs/client.md. */
export {
  connect,
  Session,
  SessionCloseEvent,
  SessionErrorEvent,
  type ConnectOptions,
  type OpenOptions,
  type BridgeInfo,
  type SessionCloseInfo,
  type SessionEventMap,
  type SocketAddress,
} from './session.ts';
export { reconnecting, type ReconnectOptions } from './reconnecting.ts';
export type { StreamGuard } from './client-stream.ts';
export { WsocksSocket, type SocketOpenInfo, type BytesSource } from './socket.ts';
export { WsocksUdpSocket, type UdpMessage, type UdpMessageInit, type UdpOpenInfo } from './udp-socket.ts';
export type { WebSocketLike, WebSocketConstructor } from './websocket-like.ts';
export { WsocksError, WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';
export type { Hop, TranscriptEntry } from '../../shared/protocol/messages.ts';
