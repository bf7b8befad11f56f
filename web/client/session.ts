/** A session with a wsocks bridge: one WebSocket carrying many streams. */
import { WsocksError, WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';
import { decodeDataFrame, encodeDataFrame, FRAME_HEADER_BYTES, writeDataFrame } from '../../shared/protocol/frame.ts';
import { canonicalTarget } from '../../shared/net/canonical-target.ts';
import { PROTOCOL_VERSION, TOKEN_PROTOCOL_PREFIX } from '../../shared/protocol/constants.ts';
import { matchesSchema } from '../../shared/protocol/json-schema-check.ts';
import { BRIDGE_MESSAGE_JSON_SCHEMA } from '../../shared/protocol/bridge-message-json-schema.ts';
import type { BridgeMessage, Hop } from '../../shared/protocol/messages.ts';
import { udpPayloadRoom } from '../../shared/socks/udp.ts';
import { deferred, type StreamGuard } from './client-stream.ts';
import { WindowBudget } from '../../shared/protocol/window-budget.ts';
import { WsocksSocket, type SocketTransport, type StreamWindow } from './socket.ts';
import { WsocksUdpSocket } from './udp-socket.ts';
import type { WebSocketConstructor, WebSocketLike } from './websocket-like.ts';

export interface ConnectOptions {
  /** Sent as a `wsocks.token.<token>` subprotocol (browsers cannot set headers on a WebSocket). */
  token?: string;
  /** The WebSocket implementation; the global one by default (pass `ws`'s in Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Each stream's initial window: bytes its readable may hold before the bridge must wait; default 1 MiB. */
  window?: number;
  /**
   * The most a stream's window may grow to while its reader keeps up (like TCP's receive window tuning), and the
   * budget all of the session's windows share for growing; default 8 MiB, at least `window`. A stream never holds
   * more than this unread. Set it to `window` for a fixed window. See docs/performance.md.
   */
  maxWindow?: number;
  /** Aborts connecting: `connect()` rejects with ERR_ABORTED. Once connected, the signal no longer matters. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the bridge's hello before rejecting with ERR_TIMEOUT; default 30 000. */
  timeout?: number;
}

export interface OpenOptions extends StreamGuard {
  /** A route named in the bridge's config. */
  route?: string;
  /** Hops to go through, when the bridge allows client chains. */
  via?: Hop[];
  /** Receive a transcript of every handshake byte. */
  inspect?: boolean;
}

/** Where to connect: `{ host, port }`, Cloudflare's `{ hostname, port }`, or `"host:port"` (`"[::1]:22"`). */
export type SocketAddress = { host: string; port: number } | { hostname: string; port: number } | string;

export interface BridgeInfo {
  limits: { maxStreams: number; maxMessageBytes: number; window: number };
  routes: string[];
  clientChains: boolean;
}

/** How a session ended cleanly: the WebSocket close code and reason; `local` when this side called `close()`. */
export interface SessionCloseInfo {
  code: number;
  reason: string;
  local: boolean;
}

/** Dispatched once when the session's WebSocket has closed; `error` is set unless it closed cleanly. */
export class SessionCloseEvent extends Event {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly error: WsocksError | undefined,
  ) {
    super('close');
  }
}

/** Dispatched for an error about the session as a whole: a bridge's session-level error, or the close that ended it. */
export class SessionErrorEvent extends Event {
  constructor(readonly error: WsocksError) {
    super('error');
  }
}

/**
 * Opens a session; resolves once the bridge has said hello, with `info` set. Rejects with a WsocksError: the
 * refusal's code when the bridge closed with one (ERR_UNAUTHORIZED, ERR_ORIGIN_DENIED, ERR_TOO_MANY_SESSIONS,
 * ERR_BRIDGE_FULL, ERR_SHUTTING_DOWN), ERR_BRIDGE_UNREACHABLE when the WebSocket failed without one, ERR_TIMEOUT,
 * or ERR_ABORTED.
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Session> {
  const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) throw new TypeError('no WebSocket implementation: pass one as options.WebSocket');
  const { signal, timeout = 30_000 } = options;
  if (signal?.aborted) throw new WsocksError(WsocksErrorCode.ABORTED, 'aborted before connecting', { cause: signal.reason });
  const protocols = [PROTOCOL_VERSION];
  if (options.token !== undefined) protocols.push(TOKEN_PROTOCOL_PREFIX + options.token);
  let ws: WebSocketLike;
  try {
    ws = new Ctor(url, protocols);
  } catch (err) {
    throw new WsocksError(WsocksErrorCode.BRIDGE_UNREACHABLE, `cannot open a WebSocket to ${url}: ${(err as Error).message}`, { cause: err });
  }
  ws.binaryType = 'arraybuffer';
  const window = options.window ?? 1024 * 1024;
  const session = new Session(ws, { initial: window, max: Math.max(window, options.maxWindow ?? 8 * 1024 * 1024) });
  const giveUp = (error: WsocksError) => session.fail(error);
  const onAbort = () => giveUp(new WsocksError(WsocksErrorCode.ABORTED, 'connect() aborted', { cause: signal?.reason }));
  const timer = setTimeout(() => giveUp(new WsocksError(WsocksErrorCode.TIMEOUT, `no hello from the bridge within ${timeout} ms`)), timeout);
  signal?.addEventListener('abort', onAbort);
  try {
    await session.ready;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  return session;
}

const CODED_REASON = /^(ERR_[A-Z0-9_]+)(?: (.*))?$/s;

/** A session with a bridge, from `connect()`: open streams on it; an EventTarget of `close` and `error` events. */
export class Session extends EventTarget implements SocketTransport {
  /** What the bridge said in its hello; set before `connect()` resolves. */
  info!: BridgeInfo;
  /** @internal Settles with the hello (connect() waits for it). */
  readonly ready: Promise<BridgeInfo>;
  /**
   * Settles when the WebSocket has closed: resolves with the code and reason after a clean close (1000, or this
   * side's `close()`), rejects with the WsocksError that ended the session (its `code` the close reason's first
   * word when the bridge gave one, `closeCode` the WebSocket close code).
   */
  readonly closed: Promise<SessionCloseInfo>;
  /** @internal */
  maxFrameData = 64 * 1024;
  private readonly sockets = new Map<number, WsocksSocket | WsocksUdpSocket>();
  private nextId = 1;
  private sessionError: WsocksError | undefined;
  /** Set once the session is over (or going): streams opened now fail at once with it. */
  private endError: WsocksError | undefined;
  private readonly readyD = deferred<BridgeInfo>();
  private localClose = false;
  private socketError = '';
  /** Every stream's receive window starts at `initial`; growth up to `max` comes from this budget (maxWindow). */
  private readonly windows: WindowBudget;

  /** @internal Use `connect()`. */
  constructor(
    private readonly ws: WebSocketLike,
    window: StreamWindow,
  ) {
    super();
    this.windows = new WindowBudget(window.initial, window.max, () => this.sockets.size);
    this.ready = this.readyD.promise;
    const closedD = deferred<SessionCloseInfo>();
    this.closed = closedD.promise;
    // Without this listener, `ws` in Node throws the failure of an unreachable bridge as an uncaught 'error'.
    ws.addEventListener('error', (ev) => {
      this.socketError = String((ev as { message?: unknown }).message ?? '');
    });
    ws.addEventListener('close', (ev) => {
      const code = ev.code ?? 1005;
      const reason = ev.reason ?? '';
      const error = this.closeError(code, reason);
      this.endError ??= error ?? new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'the session is closed', { closeCode: code });
      this.readyD.reject(this.endError);
      for (const s of [...this.sockets.values()]) s.handleError(this.endError);
      if (error) {
        closedD.reject(error);
        this.dispatchEvent(new SessionErrorEvent(error));
      } else closedD.resolve({ code, reason, local: this.localClose });
      this.dispatchEvent(new SessionCloseEvent(code, reason, error));
    });
    ws.addEventListener('message', (ev) => {
      // Nothing the bridge sends may throw out of here: in Node that would be an uncaught exception in `ws`.
      try {
        if (typeof ev.data === 'string') return this.onControl(ev.data);
        const frame = decodeDataFrame(new Uint8Array(ev.data as ArrayBuffer));
        if (frame) this.sockets.get(frame.id)?.handleData(frame.data);
      } catch (err) {
        this.dispatchEvent(new SessionErrorEvent(new WsocksError(WsocksErrorCode.BAD_MESSAGE, `a bridge message could not be handled: ${String(err)}`, { cause: err })));
      }
    });
  }

  /** The most recent session-level error the bridge reported (a bad message, for one). */
  get lastError(): WsocksError | undefined {
    return this.sessionError;
  }

  /** Opens a stream to `host:port`; see WsocksSocket for its life cycle. */
  open(target: SocketAddress, options: OpenOptions = {}): WsocksSocket {
    const socket = new WsocksSocket(this.nextId++, this, this.windows, options);
    this.start(socket, 'connect', toTarget(target), options);
    return socket;
  }

  /**
   * Asks the route's last hop to BIND: `bound` resolves with the address it listens on (its first reply), and
   * `opened` when a peer has connected (the second reply), with the peer as `remoteAddress`. `expect` names the
   * peer the proxy should accept, where the proxy checks it.
   */
  bind(options: OpenOptions & { expect?: SocketAddress }): WsocksSocket {
    const socket = new WsocksSocket(this.nextId++, this, this.windows, options);
    this.start(socket, 'bind', options.expect === undefined ? undefined : toTarget(options.expect), options);
    return socket;
  }

  /**
   * Opens a datagram stream: to `target` (connected), or with `null` one where every datagram names its
   * destination. Through a route, the last hop must be SOCKS5 (UDP ASSOCIATE); directly, the bridge's policy
   * decides each destination.
   */
  openUdp(target: SocketAddress | null, options: OpenOptions = {}): WsocksUdpSocket {
    const limit = Math.min(65507, udpPayloadRoom((this.info?.limits.maxMessageBytes ?? 65536) - FRAME_HEADER_BYTES));
    const t = target === null ? undefined : toTarget(target);
    // Datagram headers name the target in the canonical form the bridge holds the stream to.
    const c = t ? canonicalTarget(t.host) : undefined;
    const held = t && c?.ok ? { host: c.target.host, port: t.port } : t;
    const socket = new WsocksUdpSocket(this.nextId++, this, held ?? null, limit, options);
    this.start(socket, 'udp', t, options);
    return socket;
  }

  private start(
    socket: WsocksSocket | WsocksUdpSocket,
    command: 'connect' | 'bind' | 'udp',
    target: { host: string; port: number } | undefined,
    options: OpenOptions,
  ): void {
    // A closed (or closing) session cannot open anything: fail at once rather than wait for an answer that never comes.
    if (this.endError || this.ws.readyState !== 1) {
      return socket.handleError(this.endError ?? new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'the session is closed'));
    }
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
      window: this.windows.initial,
    });
  }

  /**
   * Closes the WebSocket (every stream on it fails with ERR_SESSION_CLOSED); resolves once it has closed. `closed`
   * then resolves with `local: true`.
   */
  close(code = 1000, reason = ''): Promise<void> {
    if (!this.endError) {
      this.localClose = true;
      this.endError = new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'the session was closed', { closeCode: code });
      this.ws.close(code, reason);
    }
    return this.closed.then(
      () => {},
      () => {},
    );
  }

  /** @internal Ends a session that has not said hello (connect()'s timeout and abort). */
  fail(error: WsocksError): void {
    this.endError ??= error;
    this.readyD.reject(error);
    this.ws.close(1000, '');
  }

  /** Sends any control message, as is. Exposed for tools and tests that speak the protocol directly. */
  sendControl(message: object): void {
    if (this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  /** The last data message's buffer: the next one reuses it when the WebSocket holds no byte unsent. */
  private spare: Uint8Array | undefined;

  /** @internal */
  sendData(id: number, data: Uint8Array): void {
    if (this.ws.readyState !== 1) return;
    const size = FRAME_HEADER_BYTES + data.length;
    // With nothing left unsent the WebSocket holds no reference to an earlier message's buffer (the browser's copies
    // what it is given at send(); ws masks it into a buffer of its own, or else keeps it queued and counted): reuse
    // it, instead of a new buffer per message for the garbage collector.
    let frame: Uint8Array;
    if (this.spare && this.spare.length >= size && this.ws.bufferedAmount === 0) {
      frame = this.spare.length === size ? this.spare : this.spare.subarray(0, size);
      writeDataFrame(frame, id, data);
    } else {
      frame = encodeDataFrame(id, data);
      if (data.length >= (this.spare?.length ?? 0)) this.spare = frame;
    }
    this.ws.send(frame);
  }

  /** @internal */
  forget(id: number): void {
    this.sockets.delete(id);
  }

  /** The error a close means, or undefined for a clean one. */
  private closeError(code: number, reason: string): WsocksError | undefined {
    const coded = CODED_REASON.exec(reason);
    if (coded) return new WsocksError(coded[1] as WsocksErrorCodeValue, coded[2] || reason, { closeCode: code });
    if (this.endError && this.localClose) return undefined;
    if (this.endError) return this.endError; // connect() gave up: its timeout or abort
    if (!this.info) {
      const detail = [code, reason || this.socketError].filter(Boolean).join(' ');
      return new WsocksError(WsocksErrorCode.BRIDGE_UNREACHABLE, `the WebSocket to the bridge failed before its hello (${detail})`, { closeCode: code });
    }
    if (code === 1000) return undefined;
    if (code === 1009) return new WsocksError(WsocksErrorCode.MESSAGE_TOO_LARGE, 'a message was over maxMessageBytes (close 1009)', { closeCode: code });
    return new WsocksError(WsocksErrorCode.SESSION_CLOSED, `the WebSocket closed (${`${code} ${reason}`.trim()})`, { closeCode: code });
  }

  private onControl(text: string): void {
    let m: BridgeMessage;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (!matchesSchema(BRIDGE_MESSAGE_JSON_SCHEMA, m)) return;
    if (m.type === 'hello') {
      this.info = { limits: m.limits, routes: m.routes, clientChains: m.clientChains };
      this.maxFrameData = m.limits.maxMessageBytes - FRAME_HEADER_BYTES;
      this.readyD.resolve(this.info);
      return;
    }
    if (m.type === 'error' && m.id === undefined) {
      this.sessionError = new WsocksError(m.code as WsocksErrorCodeValue, m.message);
      this.dispatchEvent(new SessionErrorEvent(this.sessionError));
      return;
    }
    const socket = 'id' in m && m.id !== undefined ? this.sockets.get(m.id) : undefined;
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
      case 'dropped':
        return socket.handleDropped(new WsocksError(m.code as WsocksError['code'], m.message), m.dropped);
      case 'error':
        return socket.handleError(new WsocksError(m.code as WsocksErrorCodeValue, m.message, { hop: m.hop, replyCode: m.replyCode }));
    }
  }
}

export interface SessionEventMap {
  close: SessionCloseEvent;
  error: SessionErrorEvent;
}

type ListenerOptions = boolean | { once?: boolean; capture?: boolean; passive?: boolean; signal?: AbortSignal };

// Typed listeners for the session's events (declaration merging: no code).
export interface Session {
  addEventListener<K extends keyof SessionEventMap>(type: K, listener: (event: SessionEventMap[K]) => void, options?: ListenerOptions): void;
  addEventListener(...args: Parameters<EventTarget['addEventListener']>): void;
  removeEventListener<K extends keyof SessionEventMap>(type: K, listener: (event: SessionEventMap[K]) => void, options?: ListenerOptions): void;
  removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void;
}

/** `{ host, port }` from any SocketAddress form. */
function toTarget(a: SocketAddress): { host: string; port: number } {
  if (typeof a === 'string') {
    const m = /^\[([^\]]*)\]:(\d+)$/.exec(a) ?? /^([^:]*):(\d+)$/.exec(a);
    if (!m) throw new TypeError(`expected "host:port" or "[ipv6]:port", got ${JSON.stringify(a)}`);
    return { host: m[1]!, port: Number(m[2]) };
  }
  return { host: 'host' in a ? a.host : a.hostname, port: a.port };
}
