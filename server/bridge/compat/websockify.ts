/**
 * websockify mode (docs/compat.md): one WebSocket is one TCP connection to the target its `?token=` names in the
 * config, direct or through a route, under the bridge's policy. Binary messages both ways, no framing of our own.
 * Backpressure: the target socket is paused while the WebSocket's unsent bytes are over limits.maxBufferedBytes
 * (resumed below half of it); the WebSocket is paused while the target socket does not drain.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { closeReason, SESSION_CLOSE_CODES, STREAM_CLOSE_CODES, type SessionCloseErrorCode } from '../../../shared/protocol/close-codes.ts';
import { WsocksError, WsocksErrorCode } from '../../../shared/protocol/errors.ts';
import { hostForLog } from '../../../shared/net/canonical-target.ts';
import type { WebsockifyConfig } from '../config.ts';
import { socketError } from '../stream.ts';
import { dialTarget } from './dial-target.ts';
import { SessionLedger } from '../events.ts';
import { GrantGuard } from '../grant-guard.ts';
import { scopeDenial, type SessionGrant } from '../tokens.ts';
import type { OpenMessage } from '../../../shared/protocol/messages.ts';
import type { SessionContext } from '../session.ts';
import { OutgoingBudget } from '../outgoing-budget.ts';
import { resetSocket } from '../../net/reset.ts';

/** The subprotocol websockify clients (noVNC) offer; a client may also offer none. */
export const WEBSOCKIFY_PROTOCOL = 'binary';
/** websockify's older text mode (noVNC before 1.0): every message is the base64 of the bytes. */
export const WEBSOCKIFY_BASE64_PROTOCOL = 'base64';

/** The subprotocol the bridge answers with: `binary` if offered, else `base64` if offered, else none. */
export function websockifyProtocolOf(offered: ReadonlySet<string>): string | false {
  return offered.has(WEBSOCKIFY_PROTOCOL) ? WEBSOCKIFY_PROTOCOL : offered.has(WEBSOCKIFY_BASE64_PROTOCOL) ? WEBSOCKIFY_BASE64_PROTOCOL : false;
}

/** Strict base64 (RFC 4648 §4, padded): what a base64-mode message must be. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The one stream's number in the session's records (logs, metrics). */
const STREAM_ID = 1;
/** How long a closing WebSocket may take to finish its closing handshake before its socket is cut. */
const CLOSE_GRACE_MS = 1_000;

export type WebsockifyTarget = WebsockifyConfig['targets'][string];

/** The target a websockify request's `?token=` names, or why there is none. Never logs the token. */
export function websockifyTarget(config: WebsockifyConfig, req: IncomingMessage): { ok: true; target: WebsockifyTarget } | { ok: false; message: string } {
  const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  if (token === null) return { ok: false, message: 'websockify endpoint: ?token= is required' };
  const target = Object.hasOwn(config.targets, token) ? config.targets[token] : undefined;
  return target ? { ok: true, target } : { ok: false, message: 'websockify endpoint: unknown token' };
}

/** Whether the request's subprotocols suit websockify mode: none offered, or `binary` or `base64` among them. */
export function websockifyProtocolOk(req: IncomingMessage): boolean {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return true;
  return websockifyProtocolOf(new Set(header.split(',').map((p) => p.trim()))) !== false;
}

/** How a one-connection session came: a websockify token, or (wsproxy) a target in a Wisp endpoint's path. */
export interface OneStreamOptions {
  protocol: 'websockify' | 'wsproxy';
  /** wsproxy: a signed token's grant (its scope judges the client's target; its expiry and quota apply). */
  grant?: SessionGrant | undefined;
}

/**
 * One websockify WebSocket and its TCP connection; the bridge counts it as a session with (at most) one stream.
 * The legacy wsproxy path mode (docs/compat.md) is the same relay with a target the client named.
 */
export class WebsockifySession {
  readonly closed: Promise<void>;
  private socket: Socket | undefined;
  private readonly abort = new AbortController();
  /** Bytes handed to the WebSocket and not yet written; over the bound the target is not read until it drains. */
  private readonly budget: OutgoingBudget;
  private overloadTimer: NodeJS.Timeout | undefined;
  private cutTimer: NodeJS.Timeout | undefined;
  private readonly pinger: NodeJS.Timeout;
  private alive = true;
  /** Messages that arrived while connecting (the WebSocket is paused meanwhile, so these are few). */
  private early: Buffer[] = [];
  private done = false;
  /** Records of the session and its stream (logs, metrics), labelled protocol `websockify`. */
  private readonly ledger: SessionLedger;
  /** websockify's base64 text mode (subprotocol `base64`) instead of binary messages. */
  private readonly base64: boolean;
  /** The mode's name in log lines. */
  private readonly label: string;
  private readonly guard = new GrantGuard((code, message) => this.closeWith(code, message));

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    readonly client: string,
    private readonly target: WebsockifyTarget,
    private readonly options: OneStreamOptions = { protocol: 'websockify' },
  ) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    this.base64 = ws.protocol === WEBSOCKIFY_BASE64_PROTOCOL;
    this.label = `${options.protocol} from ${client}`;
    this.budget = new OutgoingBudget(ctx.config.limits.maxBufferedBytes, {
      congest: () => {
        this.socket?.pause();
        const { overloadTimeoutMs } = ctx.config.limits;
        this.overloadTimer = setTimeout(
          () => this.closeWith(WsocksErrorCode.SESSION_OVERLOADED, `the client read nothing of ${this.budget.bytes} buffered bytes for ${overloadTimeoutMs} ms`),
          overloadTimeoutMs,
        );
      },
      progress: () => this.overloadTimer?.refresh(),
      decongest: () => {
        clearTimeout(this.overloadTimer);
        if (!this.done) this.socket?.resume();
      },
    });
    this.ledger = new SessionLedger(ctx.sessionNumber(), client, ctx.emit, options.protocol);
    this.ledger.opening({ id: STREAM_ID, host: target.host, port: target.port, command: 'connect', route: target.route });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.fromClient(data, isBinary));
    ws.on('error', () => this.cutAfterGrace());
    ws.on('pong', () => (this.alive = true));
    ws.on('ping', (data: Buffer) => this.onPing(data));
    ws.once('close', (code: number, reason: Buffer) => {
      this.guard.dispose();
      this.onClientClosed(code);
      this.ledger.ended(code, reason.toString('utf8'));
    });
    this.pinger = setInterval(() => {
      if (!this.alive) return ws.terminate();
      this.alive = false;
      ws.ping();
    }, ctx.config.limits.pingIntervalMs);
    ws.pause();
    this.guard.set(options.grant);
    this.open().catch((err: unknown) => {
      ctx.log(`${this.label}: internal error: ${(err as Error).stack ?? String(err)}`);
      this.fail(new WsocksError(WsocksErrorCode.CONNECT_FAILED, 'internal error'));
    });
  }

  /** 1 while the TCP connection is opening or open. */
  get streamCount(): number {
    return this.done ? 0 : 1;
  }

  get bufferedBytes(): number {
    return this.budget.bytes;
  }

  /** The bridge drains: the connection keeps going until it ends (or the drain deadline calls `closeWith`). */
  drain(_message: string): void {}

  closeWith(code: SessionCloseErrorCode, message: string): void {
    this.closeWs(SESSION_CLOSE_CODES[code], closeReason(code, message));
  }

  private async open(): Promise<void> {
    const { config } = this.ctx;
    const { host, port, route } = this.target;
    if (this.ctx.streamsOpen() > config.limits.maxStreams) {
      return this.fail(new WsocksError(WsocksErrorCode.BRIDGE_FULL, `the bridge is at its limit of ${config.limits.maxStreams} streams`));
    }
    const grant = this.options.grant;
    const denial = grant && scopeDenial(grant.scope, { type: 'open', id: STREAM_ID, host, port, route } as OpenMessage);
    if (denial) return this.fail(new WsocksError(WsocksErrorCode.TOKEN_SCOPE, denial));
    try {
      const dialed = await dialTarget(this.ctx, host, port, route, this.abort.signal);
      this.attach(dialed.socket, dialed.rest);
    } catch (err) {
      this.fail(err instanceof WsocksError ? err : new WsocksError(WsocksErrorCode.CONNECT_FAILED, (err as Error).message));
    }
  }

  private attach(socket: Socket, rest: Uint8Array): void {
    if (this.done) {
      resetSocket(socket);
      return;
    }
    this.socket = socket;
    this.ledger.opened(STREAM_ID);
    this.ctx.log(`${this.label}: connected to ${hostForLog(this.target.host)}:${this.target.port}${this.target.route ? ` via route ${this.target.route}` : ''}`);
    socket.on('data', (chunk: Buffer) => this.toClient(chunk));
    // websockify has no half-close: the target's FIN ends the WebSocket (1000) after every byte before it.
    socket.once('end', () => this.finish());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(socketError(err)));
    socket.once('close', () => this.finish());
    socket.on('drain', () => this.ws.resume());
    const idle = this.ctx.config.limits.idleTimeoutMs;
    if (idle > 0) socket.setTimeout(idle, () => this.fail(new WsocksError(WsocksErrorCode.IDLE_TIMEOUT, `no traffic for ${idle} ms`)));
    if (rest.length > 0) this.toClient(Buffer.from(rest));
    for (const m of this.early) this.toTarget(m);
    this.early = [];
    if (socket.writableNeedDrain) this.ws.pause();
    else this.ws.resume();
    socket.resume();
  }

  private fromClient(data: Buffer, isBinary: boolean): void {
    // Closing: the WebSocket is read only for the client's close frame; what came before it is dropped.
    if (this.done || this.ws.readyState !== this.ws.OPEN) return;
    if (this.base64) {
      const text = isBinary ? undefined : data.toString('latin1');
      if (text === undefined || !BASE64.test(text)) {
        this.fail(new WsocksError(WsocksErrorCode.BAD_MESSAGE, 'websockify endpoint (base64): every message is base64 text'));
        return;
      }
      data = Buffer.from(text, 'base64');
    } else if (!isBinary) {
      this.fail(new WsocksError(WsocksErrorCode.BAD_MESSAGE, 'websockify endpoint: only binary messages are accepted'));
      return;
    }
    if (!this.guard.carry(data.length)) return;
    this.ledger.up(STREAM_ID, data.length);
    if (!this.socket) this.early.push(data);
    else this.toTarget(data);
  }

  private toTarget(data: Buffer): void {
    if (!this.socket!.write(data)) this.ws.pause();
  }

  private toClient(chunk: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.guard.carry(chunk.length)) return;
    this.ledger.down(STREAM_ID, chunk.length);
    const { maxMessageBytes } = this.ctx.config.limits;
    // base64: 4 characters per 3 bytes, so a message carries at most 3/4 of maxMessageBytes.
    const step = this.base64 ? Math.max(3, Math.floor(maxMessageBytes / 4) * 3) : maxMessageBytes;
    for (let at = 0; at < chunk.length; at += step) {
      const part = chunk.subarray(at, at + step);
      const message = this.base64 ? part.toString('base64') : part;
      this.budget.queued(message.length);
      this.ws.send(message, () => this.budget.written(message.length));
    }
  }

  /**
   * A client's ping is answered (the bridge's WebSocket server leaves that to sessions), unless the outgoing buffer
   * is over its bound: then it is skipped (RFC 6455 §5.5.3 lets a pong answer only the latest ping).
   */
  private onPing(data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN || this.budget.bytes > this.budget.bound) return;
    const bytes = data.length + 2;
    this.budget.queued(bytes);
    this.ws.pong(data, false, () => this.budget.written(bytes));
  }

  /** The target closed cleanly: the close frame follows every byte already handed to the WebSocket. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.ledger.targetClosed(STREAM_ID);
    this.ledger.removed(STREAM_ID);
    this.socket?.end();
    this.closeWs(STREAM_CLOSE_CODES.END, 'target closed');
  }

  private fail(error: WsocksError): void {
    if (this.done) return;
    this.done = true;
    const where = `${hostForLog(this.target.host)}:${this.target.port}`;
    this.ctx.log(`${this.label} (${where}) failed: ${error.code} ${error.message}`);
    this.ledger.failed(STREAM_ID, error.code, error.message);
    this.ledger.removed(STREAM_ID);
    this.abort.abort();
    if (this.socket) resetSocket(this.socket);
    const code = error.code === WsocksErrorCode.STREAM_RESET ? STREAM_CLOSE_CODES.RESET : STREAM_CLOSE_CODES.FAILED;
    this.closeWs(code, closeReason(error.code, error.message));
  }

  private closeWs(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
    // The client's close frame must be read (the WebSocket may be paused by backpressure or while connecting).
    this.ws.resume();
    this.cutAfterGrace();
  }

  private cutAfterGrace(): void {
    if (this.cutTimer || this.ws.readyState === this.ws.CLOSED) return;
    // Generous: the close frame waits behind every byte still queued for the client.
    this.cutTimer = setTimeout(() => this.ws.terminate(), Math.max(CLOSE_GRACE_MS, this.ctx.config.limits.overloadTimeoutMs));
  }

  /** The WebSocket is gone: a clean close ends the target with FIN after the bytes written; any other, a reset. */
  private onClientClosed(code: number): void {
    clearInterval(this.pinger);
    clearTimeout(this.overloadTimer);
    clearTimeout(this.cutTimer);
    this.abort.abort();
    const socket = this.socket;
    const wasDone = this.done;
    this.done = true;
    if (!wasDone) this.ledger.clientClosed(STREAM_ID);
    if (!socket || socket.destroyed) return;
    if (wasDone || code === 1000 || code === 1005) {
      socket.setTimeout(0);
      // Nobody reads the target any more: once our FIN is out (after the bytes written), the socket goes.
      socket.resume();
      if (socket.writableFinished) socket.destroy();
      else {
        socket.once('finish', () => socket.destroy());
        socket.end();
      }
    } else {
      resetSocket(socket);
    }
  }
}
