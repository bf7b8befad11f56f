/** The wsocks browser client: `connect(url)` to a bridge, then `session.open({ host, port })`. */
export { connect, Session, type ConnectOptions, type OpenOptions, type BridgeInfo } from './session.ts';
export { WsocksSocket, type SocketOpenInfo } from './socket.ts';
export { WsocksUdpSocket, type UdpMessage, type UdpMessageInit, type UdpOpenInfo } from './udp-socket.ts';
export type { WebSocketLike, WebSocketConstructor } from './websocket-like.ts';
export { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
export type { Hop, TranscriptEntry } from '../../shared/protocol/messages.ts';
