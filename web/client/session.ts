/** A session with a wsocks bridge: one WebSocket carrying many streams. */
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { decodeDataFrame, encodeDataFrame, FRAME_HEADER_BYTES } from '../../shared/protocol/frame.ts';
import { canonicalTarget } from '../../shared/net/canonical-target.ts';
import { BridgeMessageSchema, PROTOCOL_VERSION, TOKEN_PROTOCOL_PREFIX, type Hop } from '../../shared/protocol/messages.ts';
import { udpPayloadRoom } from '../../shared/socks/udp.ts';
import { deferred } from './client-stream.ts';
import { WsocksSocket, type SocketTransport } from './socket.ts';
import { WsocksUdpSocket } from './udp-socket.ts';
import type { WebSocketConstructor, WebSocketLike } from './websocket-like.ts';

export interface ConnectOptions {
  /** Sent as a `wsocks.token.<token>` subprotocol (browsers cannot set headers on a WebSocket). */
  token?: string;
  /** The WebSocket implementation; the global one by default (pass `ws`'s in Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Bytes each stream's readable may hold before the bridge must wait; default 256 KiB. */
  window?: number;
}

export interface OpenOptions {
  /** A route named in the bridge's config. */
  route?: string;
  /** Hops to go through, when the bridge allows client chains. */
  via?: Hop[];
  /** Receive a transcript of every handshake byte. */
  inspect?: boolean;
}

export interface BridgeInfo {
  limits: { maxStreams: number; maxMessageBytes: number; window: number };
  routes: string[];
  clientChains: boolean;
}

/** Opens a session; resolves once the bridge has said hello. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Session> {
  const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) throw new TypeError('no WebSocket implementation: pass one as options.WebSocket');
  const protocols = [PROTOCOL_VERSION];
  if (options.token !== undefined) protocols.push(TOKEN_PROTOCOL_PREFIX + options.token);
  const ws = new Ctor(url, protocols);
  ws.binaryType = 'arraybuffer';
  const session = new Session(ws, options.window ?? 256 * 1024);
  await session.ready;
  return session;
}

export class Session implements SocketTransport {
  readonly ready: Promise<BridgeInfo>;
  /** Settles when the WebSocket has closed. */
  readonly closed: Promise<void>;
  info: BridgeInfo | undefined;
  maxFrameData = 64 * 1024;
  private readonly sockets = new Map<number, WsocksSocket | WsocksUdpSocket>();
  private nextId = 1;
  private sessionError: WsocksError | undefined;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly window: number,
  ) {
    const { promise, resolve: ready, reject: fail } = deferred<BridgeInfo>();
    this.ready = promise;
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', (ev) => {
        const err = new WsocksError(
          WsocksErrorCode.SESSION_CLOSED,
          this.info ? `the WebSocket closed (${ev.code ?? ''} ${ev.reason ?? ''})`.trim() : 'the bridge refused or closed the WebSocket before its hello',
        );
        fail(err);
        for (const s of [...this.sockets.values()]) s.handleError(err);
        resolve();
      });
    });
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') return this.onControl(ev.data, ready);
      const frame = decodeDataFrame(new Uint8Array(ev.data as ArrayBuffer));
      if (frame) this.sockets.get(frame.id)?.handleData(frame.data);
    });
  }

  /** The most recent session-level error the bridge reported (a bad message, for one). */
  get lastError(): WsocksError | undefined {
    return this.sessionError;
  }

  /** Opens a stream to `host:port`; see WsocksSocket for its life cycle. */
  open(target: { host: string; port: number }, options: OpenOptions = {}): WsocksSocket {
    const socket = new WsocksSocket(this.nextId++, this, this.window);
    this.start(socket, 'connect', target, options);
    return socket;
  }

  /**
   * Asks the route's last hop to BIND: `bound` resolves with the address it listens on (its first reply), and
   * `opened` when a peer has connected (the second reply), with the peer as `remoteAddress`. `expect` names the
   * peer the proxy should accept, where the proxy checks it.
   */
  bind(options: OpenOptions & { expect?: { host: string; port: number } }): WsocksSocket {
    const socket = new WsocksSocket(this.nextId++, this, this.window);
    this.start(socket, 'bind', options.expect, options);
    return socket;
  }

  /**
   * Opens a datagram stream: to `target` (connected), or with `null` one where every datagram names its
   * destination. Through a route, the last hop must be SOCKS5 (UDP ASSOCIATE); directly, the bridge's policy
   * decides each destination.
   */
  openUdp(target: { host: string; port: number } | null, options: OpenOptions = {}): WsocksUdpSocket {
    const limit = Math.min(65507, udpPayloadRoom((this.info?.limits.maxMessageBytes ?? 65536) - FRAME_HEADER_BYTES));
    const socket = new WsocksUdpSocket(this.nextId++, this, target, limit);
    this.start(socket, 'udp', target ?? undefined, options);
    return socket;
  }

  private start(
    socket: WsocksSocket | WsocksUdpSocket,
    command: 'connect' | 'bind' | 'udp',
    target: { host: string; port: number } | undefined,
    options: OpenOptions,
  ): void {
    this.sockets.set(socket.id, socket);
    if (target) {
      // The same canonical form the bridge computes: a host that is not one fails here, without a round trip.
      const c = canonicalTarget(target.host);
      if (!c.ok) return queueMicrotask(() => socket.handleError(new WsocksError(WsocksErrorCode.BAD_TARGET, c.message)));
      target = { host: c.target.host, port: target.port };
    }
    this.sendControl({
      type: 'open',
      id: socket.id,
      ...(command !== 'connect' ? { command } : {}),
      ...(target ? { host: target.host, port: target.port } : {}),
      ...(options.route !== undefined ? { route: options.route } : {}),
      ...(options.via !== undefined ? { via: options.via } : {}),
      ...(options.inspect ? { inspect: true } : {}),
      window: this.window,
    });
  }

  close(): void {
    this.ws.close(1000, 'done');
  }

  /** Sends any control message, as is. Exposed for tools and tests that speak the protocol directly. */
  sendControl(message: object): void {
    if (this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  sendData(id: number, data: Uint8Array): void {
    if (this.ws.readyState === 1) this.ws.send(encodeDataFrame(id, data));
  }

  forget(id: number): void {
    this.sockets.delete(id);
  }

  private onControl(text: string, ready: (info: BridgeInfo) => void): void {
    let parsed;
    try {
      parsed = BridgeMessageSchema.safeParse(JSON.parse(text));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.type === 'hello') {
      this.info = { limits: m.limits, routes: m.routes, clientChains: m.clientChains };
      this.maxFrameData = m.limits.maxMessageBytes - FRAME_HEADER_BYTES;
      ready(this.info);
      return;
    }
    if (m.type === 'error' && m.id === undefined) {
      this.sessionError = new WsocksError(m.code as WsocksError['code'], m.message);
      return;
    }
    const socket = m.id === undefined ? undefined : this.sockets.get(m.id);
    if (!socket) return;
    switch (m.type) {
      case 'opened':
        return socket.handleOpened(m.remoteAddress, m.remotePort, m.window);
      case 'bound':
        return socket.handleBound(m.address, m.port);
      case 'credit':
        return socket.handleCredit(m.bytes);
      case 'end':
        return socket.handleEnd();
      case 'close':
        return socket.handleClose();
      case 'transcript':
        return socket.handleTranscript(m.entry);
      case 'error':
        return socket.handleError(new WsocksError(m.code as WsocksError['code'], m.message, { hop: m.hop, replyCode: m.replyCode }));
    }
  }
}
