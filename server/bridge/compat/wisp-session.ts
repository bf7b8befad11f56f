/**
 * A Wisp endpoint (docs/compat.md): many streams over one WebSocket, packets per shared/protocol/wisp-frame.ts. Wisp
 * v1, or v2 when the client offers a subprotocol (INFO exchange; extensions UDP, password auth mapped to the bridge's
 * tokens, MOTD, stream-open confirmation). Every stream goes through the bridge's dialer and policy, over the
 * endpoint's route (Wisp has no field for one), and a signed token's scope.
 * Bounds of our own, whatever the client does with CONTINUE: a stream's bytes waiting to be written to its target
 * are bounded by limits.window (over it, the WebSocket is not read until they drain); bytes queued for the client
 * by limits.maxBufferedBytes (over it, no target is read). Either state with no progress for
 * limits.overloadTimeoutMs closes the session with 4008.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { closeReason, SESSION_CLOSE_CODES, type SessionCloseErrorCode } from '../../../shared/protocol/close-codes.ts';
import { WsocksError, WsocksErrorCode } from '../../../shared/protocol/errors.ts';
import { hostForLog } from '../../../shared/net/canonical-target.ts';
import { decodeWispPacket, encodeWispPacket, WispCloseReason, WispStreamType, WISP_HEADER_BYTES, type WispPacket } from '../../../shared/protocol/wisp-frame.ts';
import {
  decodeWispExtensions,
  encodeWispExtensions,
  motdPayload,
  passwordClientReadings,
  passwordServerPayload,
  WispExtensionId,
  type WispExtension,
} from '../../../shared/protocol/wisp-extensions.ts';
import { wispCloseReasonFor } from '../../../shared/protocol/wisp-close-reason.ts';
import type { OpenMessage } from '../../../shared/protocol/messages.ts';
import { scopeDenial, type SessionGrant, type TokenCheck } from '../tokens.ts';
import { WispUdpStream, type WispUdpHost } from './wisp-udp.ts';
import { GrantGuard } from '../grant-guard.ts';
import { SessionLedger } from '../events.ts';
import { socketError } from '../stream.ts';
import { dialTarget } from './dial-target.ts';
import type { SessionContext } from '../session.ts';
import { OutgoingBudget } from '../outgoing-budget.ts';
import { resetSocket } from '../../net/reset.ts';

/** Packets a client may send on a stream before it waits for CONTINUE (the v1 handshake's buffer size). */
export const WISP_BUFFER_PACKETS = 128;
const CLOSE_GRACE_MS = 1_000;

/** How an endpoint serves a session (from its config entry and the upgrade request). */
export interface WispSessionOptions {
  /** The endpoint's route (a name in `routes`); none: direct. */
  route: string | undefined;
  /** v2: the MOTD extension's message. */
  motd: string | undefined;
  /** v2: whether UDP streams are served (the UDP extension is offered). */
  udp: boolean;
  /** Wisp v2: the client offered a subprotocol (the spec's signal for v2). */
  v2: boolean;
  /**
   * v2 password authentication, required when the client presented no token on the path: checks the password
   * against the bridge's tokens (the username is not checked).
   */
  passwordAuth: ((password: string) => Promise<TokenCheck>) | undefined;
  /** A signed token's grant (scope, expiry); none: the bridge's whole policy. */
  grant: SessionGrant | undefined;
}

interface WispStream {
  id: number;
  host: string;
  port: number;
  socket: Socket | undefined;
  abort: AbortController;
  /** Data that arrived while connecting. */
  early: Buffer[];
  /** Bytes handed to the socket (or waiting in `early`) and not yet written. */
  pending: number;
  /** DATA packets since the last CONTINUE. */
  packets: number;
  done: boolean;
}

export class WispSession implements WispUdpHost {
  readonly closed: Promise<void>;
  private readonly streams = new Map<number, WispStream>();
  private readonly udpStreams = new Map<number, WispUdpStream>();
  /** v2 handshake: waiting for the client's INFO, then (password auth) for its check; packets wait meanwhile. */
  private phase: 'info' | 'checking' | 'open' = 'open';
  private held: Array<[Buffer, boolean]> = [];
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** A signed token's scope (checked on every CONNECT); its expiry and byte quota are the guard's. */
  private grant: SessionGrant | undefined;
  private readonly guard = new GrantGuard((code, message) => this.closeWith(code, message));
  /** Negotiated v2 extensions. */
  private udpOn = false;
  private confirmOpens = false;
  private readonly route: string | undefined;
  private readonly label: string;
  /** Records of the session and its streams (logs, metrics), labelled protocol `wisp`. */
  private readonly ledger: SessionLedger;
  /** Bytes handed to the WebSocket and not yet written; over the bound no target is read until it drains. */
  private readonly budget: OutgoingBudget;
  /** The WebSocket is not read because a stream's bytes toward its target are over the bound. */
  private readPaused = false;
  private overloadTimer: NodeJS.Timeout | undefined;
  private cutTimer: NodeJS.Timeout | undefined;
  private readonly pinger: NodeJS.Timeout;
  private alive = true;
  private drainMessage: string | undefined;
  /** The most bytes one stream ever had waiting toward its target (logged when the session ends). */
  private maxPending = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    readonly client: string,
    private readonly options: WispSessionOptions,
  ) {
    this.route = options.route;
    this.grant = options.grant;
    this.budget = new OutgoingBudget(ctx.config.limits.maxBufferedBytes, {
      congest: () => {
        for (const s of this.streams.values()) s.socket?.pause();
        this.updateReading();
        this.armOverload(`the client read nothing of ${this.budget.bytes} buffered bytes`);
      },
      progress: () => this.overloadTimer?.refresh(),
      decongest: () => {
        this.disarmOverload();
        for (const s of this.streams.values()) if (!s.done) s.socket?.resume();
        this.updateReading();
      },
    });
    this.label = `wisp${options.v2 ? ' v2' : ''} session from ${client}`;
    this.ledger = new SessionLedger(ctx.sessionNumber(), client, ctx.emit, 'wisp');
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (err) {
        ctx.log(`wisp session from ${client}: internal error: ${(err as Error).stack ?? String(err)}`);
        ws.close(1011, 'internal error');
      }
    });
    ws.on('error', () => this.cutAfterGrace());
    ws.on('pong', () => (this.alive = true));
    ws.on('ping', (data: Buffer) => this.onPing(data));
    ws.once('close', (code: number, reason: Buffer) => this.onClosed(code, reason.toString('utf8')));
    this.pinger = setInterval(() => {
      if (!this.alive) return ws.terminate();
      this.alive = false;
      ws.ping();
    }, ctx.config.limits.pingIntervalMs);
    if (options.v2) this.sendInfo();
    // Wisp v1: the first packet is CONTINUE on stream 0 with the per-stream buffer size (0 means version 1).
    else this.send({ type: 'continue', id: 0, remaining: WISP_BUFFER_PACKETS });
    this.guard.set(this.grant);
  }

  get streamCount(): number {
    return this.streams.size + this.udpStreams.size;
  }

  /** v2: the server's INFO (version 2.0 and the extensions served), then the client's INFO is awaited. */
  private sendInfo(): void {
    const { motd, udp, passwordAuth } = this.options;
    const extensions: WispExtension[] = [];
    if (udp) extensions.push({ id: WispExtensionId.UDP, payload: new Uint8Array(0) });
    if (passwordAuth) extensions.push({ id: WispExtensionId.PASSWORD, payload: passwordServerPayload(true) });
    if (motd !== undefined) extensions.push({ id: WispExtensionId.MOTD, payload: motdPayload(motd) });
    extensions.push({ id: WispExtensionId.STREAM_CONFIRMATION, payload: new Uint8Array(0) });
    this.phase = 'info';
    this.send({ type: 'info', id: 0, major: 2, minor: 0, extensions: encodeWispExtensions(extensions) });
    const ms = this.ctx.config.limits.handshakeTimeoutMs;
    this.handshakeTimer = setTimeout(() => this.closeWith(WsocksErrorCode.BAD_MESSAGE, `Wisp v2: no INFO from the client within ${ms} ms`), ms);
  }

  /** v2: the client's INFO: credentials (if asked), the extensions both sides support, then CONTINUE on stream 0. */
  private async onInfo(p: Extract<WispPacket, { type: 'info' }>): Promise<void> {
    if (p.id !== 0) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, 'Wisp v2: INFO belongs on stream 0');
    const decoded = decodeWispExtensions(p.extensions);
    if (!decoded.ok) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, `Wisp v2: ${decoded.error}`);
    const offered = new Map(decoded.extensions.map((e) => [e.id, e.payload]));
    const { passwordAuth } = this.options;
    if (passwordAuth) {
      this.phase = 'checking';
      this.updateReading();
      const payload = offered.get(WispExtensionId.PASSWORD);
      let check: TokenCheck = { ok: false, message: 'Wisp v2: password authentication is required' };
      for (const reading of payload ? passwordClientReadings(payload) : []) {
        check = await passwordAuth(Buffer.from(reading.password).toString('utf8'));
        if (check.ok) break;
      }
      if (this.ws.readyState !== this.ws.OPEN) return;
      if (!check.ok) {
        clearTimeout(this.handshakeTimer);
        this.send({ type: 'close', id: 0, reason: payload ? WispCloseReason.AUTH_FAILED : WispCloseReason.AUTH_REQUIRED });
        return this.closeWith(WsocksErrorCode.UNAUTHORIZED, payload ? 'Wisp v2: wrong password (token)' : 'Wisp v2: password authentication is required');
      }
      this.grant = check.grant;
      this.guard.set(this.grant);
    }
    clearTimeout(this.handshakeTimer);
    this.udpOn = this.options.udp && offered.has(WispExtensionId.UDP);
    this.confirmOpens = offered.has(WispExtensionId.STREAM_CONFIRMATION);
    this.phase = 'open';
    this.send({ type: 'continue', id: 0, remaining: WISP_BUFFER_PACKETS });
    const held = this.held;
    this.held = [];
    for (const [data, isBinary] of held) this.onMessage(data, isBinary);
    this.updateReading();
  }

  private carry(bytes: number): boolean {
    return this.guard.carry(bytes);
  }

  get bufferedBytes(): number {
    return this.budget.bytes;
  }

  /** The outgoing buffer is over its bound: no target is read until it drains. */
  get congested(): boolean {
    return this.budget.congested;
  }

  drain(message: string): void {
    this.drainMessage = message;
    this.closeIfDrained();
  }

  closeWith(code: SessionCloseErrorCode, message: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ctx.log(`${this.label}: closing: ${code} ${message}`);
    this.ws.close(SESSION_CLOSE_CODES[code], closeReason(code, message));
    this.ws.resume();
    this.cutAfterGrace();
  }

  private closeIfDrained(): void {
    if (this.drainMessage !== undefined && this.streamCount === 0) this.closeWith(WsocksErrorCode.SHUTTING_DOWN, this.drainMessage);
  }

  private send(p: WispPacket): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // Answers are what a client can make the bridge produce at will (a CLOSE for each CONNECT it refuses): one that
    // reads nothing and keeps asking (with what the WebSocket had read before it was paused) is closed at twice the bound.
    if (this.congested && p.type !== 'data' && this.budget.bytes > 2 * this.budget.bound) {
      return this.closeWith(WsocksErrorCode.SESSION_OVERLOADED, 'the client reads nothing and keeps sending packets that need an answer');
    }
    const bytes = encodeWispPacket(p);
    this.budget.queued(bytes.length);
    this.ws.send(bytes, () => this.budget.written(bytes.length));
  }

  /**
   * The WebSocket is read unless the outgoing buffer is over its bound (the client reads nothing: what it sends
   * would only queue answers), a stream's bytes toward its target are over theirs, or the v2 password is checked.
   */
  private updateReading(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.congested || this.readPaused || this.phase === 'checking') this.ws.pause();
    else this.ws.resume();
  }

  /**
   * A client's ping is answered (the bridge's WebSocket server leaves that to sessions), unless the outgoing buffer
   * is over its bound: then it is skipped (RFC 6455 §5.5.3 lets a pong answer only the latest ping).
   */
  private onPing(data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN || this.congested) return;
    const bytes = data.length + 2;
    this.budget.queued(bytes);
    this.ws.pong(data, false, () => this.budget.written(bytes));
  }

  private armOverload(what: string): void {
    if (this.overloadTimer) return;
    const { overloadTimeoutMs } = this.ctx.config.limits;
    this.overloadTimer = setTimeout(() => this.closeWith(WsocksErrorCode.SESSION_OVERLOADED, `${what} for ${overloadTimeoutMs} ms`), overloadTimeoutMs);
  }

  private disarmOverload(): void {
    if (this.congested || this.readPaused) return;
    clearTimeout(this.overloadTimer);
    this.overloadTimer = undefined;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    // Closing: the WebSocket is read only for the client's close frame; what came before it is dropped.
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.phase === 'checking') {
      // The WebSocket is paused; what it had already read waits (a few messages at most).
      this.held.push([data, isBinary]);
      return;
    }
    if (!isBinary) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, 'Wisp packets are binary messages');
    const decoded = decodeWispPacket(data);
    if (!decoded.ok) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, `Wisp: ${decoded.error}`);
    const p = decoded.packet;
    if (this.phase === 'info') {
      if (p.type === 'info') {
        void this.onInfo(p).catch((err: unknown) => {
          this.ctx.log(`${this.label}: internal error: ${(err as Error).stack ?? String(err)}`);
          this.ws.close(1011, 'internal error');
        });
        return;
      }
      // The client gave up on the handshake (CLOSE on stream 0, e.g. 0x04 incompatible extensions).
      if (p.type === 'close' && p.id === 0) return void this.ws.close(1000);
      return this.closeWith(WsocksErrorCode.BAD_MESSAGE, `Wisp v2: expected the client's INFO, got ${p.type.toUpperCase()}`);
    }
    if (p.type === 'info') return this.closeWith(WsocksErrorCode.BAD_MESSAGE, 'Wisp: INFO outside the v2 handshake');
    if (p.type === 'connect') return this.connect(p);
    const udp = this.udpStreams.get(p.id);
    if (udp) {
      if (p.type === 'data' && this.carry(p.data.length)) {
        this.ledger.up(p.id, p.data.length);
        udp.fromClient(p.data);
      } else if (p.type === 'close') {
        this.udpStreams.delete(p.id);
        this.ledger.clientClosed(p.id);
        udp.clientClosed();
      }
      return;
    }
    const stream = this.streams.get(p.id);
    // Packets for a stream that just closed are a normal race: dropped. CONTINUE is server -> client only.
    if (!stream || stream.done) return;
    if (p.type === 'data' && !this.carry(p.data.length)) return;
    if (p.type === 'data') this.toTarget(stream, data.subarray(WISP_HEADER_BYTES));
    else if (p.type === 'close') this.clientClosed(stream, p.reason);
  }

  private connect(p: Extract<WispPacket, { type: 'connect' }>): void {
    const { limits } = this.ctx.config;
    if (p.id === 0) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, 'Wisp: stream id 0 is the connection itself');
    if (this.streams.has(p.id) || this.udpStreams.has(p.id)) return this.closeWith(WsocksErrorCode.BAD_MESSAGE, `Wisp: stream ${p.id} is already open`);
    const udp = p.streamType === WispStreamType.UDP && this.udpOn;
    if (p.streamType !== WispStreamType.TCP && !udp) return this.send({ type: 'close', id: p.id, reason: WispCloseReason.INVALID_INFO });
    const perSession = Math.min(limits.streamsPerSession, this.grant?.scope.maxStreams ?? Infinity);
    if (this.drainMessage !== undefined || this.streamCount >= perSession || this.ctx.streamsOpen() >= limits.maxStreams) {
      return this.send({ type: 'close', id: p.id, reason: WispCloseReason.THROTTLED });
    }
    this.ledger.opening({ id: p.id, host: p.hostname, port: p.port, command: udp ? 'udp' : 'connect', route: this.route });
    const denial = this.grant && scopeDenial(this.grant.scope, { type: 'open', id: p.id, host: p.hostname, port: p.port, route: this.route } as OpenMessage);
    if (denial) {
      this.ctx.log(`${this.label}: stream ${p.id} (${hostForLog(p.hostname)}:${p.port}) refused: ${WsocksErrorCode.TOKEN_SCOPE} ${denial}`);
      this.ledger.failed(p.id, WsocksErrorCode.TOKEN_SCOPE, denial);
      this.ledger.removed(p.id);
      return this.send({ type: 'close', id: p.id, reason: wispCloseReasonFor(WsocksErrorCode.TOKEN_SCOPE) });
    }
    if (udp) return this.openUdp(p.id, p.hostname, p.port);
    const stream: WispStream = { id: p.id, host: p.hostname, port: p.port, socket: undefined, abort: new AbortController(), early: [], pending: 0, packets: 0, done: false };
    this.streams.set(p.id, stream);
    void this.dial(stream);
  }

  private openUdp(id: number, host: string, port: number): void {
    const stream = new WispUdpStream(id, host, port, this, this.ctx, this.route, this.label);
    this.udpStreams.set(id, stream);
    stream.open().then(
      () => {
        if (stream.done) return;
        this.ledger.opened(id);
        if (this.confirmOpens) this.send({ type: 'continue', id, remaining: WISP_BUFFER_PACKETS });
      },
      (err: unknown) => stream.fail(err instanceof WsocksError ? err : new WsocksError(WsocksErrorCode.CONNECT_FAILED, (err as Error).message)),
    );
  }

  // WispUdpHost
  canSend(payloadBytes: number): boolean {
    return payloadBytes + WISP_HEADER_BYTES <= this.ctx.config.limits.maxMessageBytes && !this.congested && this.budget.bytes < this.budget.bound;
  }

  sendData(id: number, data: Uint8Array): void {
    if (!this.carry(data.length)) return;
    this.ledger.down(id, data.length);
    this.send({ type: 'data', id, data });
  }

  sendClose(id: number, reason: number, error?: { code: string; message: string }): void {
    if (!this.udpStreams.has(id)) return;
    if (error) this.ledger.failed(id, error.code, error.message);
    else this.ledger.targetClosed(id);
    this.send({ type: 'close', id, reason });
  }

  streamGone(stream: WispUdpStream): void {
    if (this.udpStreams.get(stream.id) === stream) this.udpStreams.delete(stream.id);
    this.ledger.removed(stream.id);
    this.closeIfDrained();
  }

  private async dial(stream: WispStream): Promise<void> {
    try {
      const dialed = await dialTarget(this.ctx, stream.host, stream.port, this.route, stream.abort.signal);
      this.attach(stream, dialed.socket, dialed.rest);
    } catch (err) {
      const e = err instanceof WsocksError ? err : new WsocksError(WsocksErrorCode.CONNECT_FAILED, (err as Error).message);
      this.fail(stream, e);
    }
  }

  private attach(stream: WispStream, socket: Socket, rest: Uint8Array): void {
    if (stream.done) {
      resetSocket(socket);
      return;
    }
    stream.socket = socket;
    this.ledger.opened(stream.id);
    if (this.confirmOpens) {
      // v2 stream-open confirmation: CONTINUE once the target is connected (the client's packet count restarts).
      stream.packets = 0;
      this.send({ type: 'continue', id: stream.id, remaining: WISP_BUFFER_PACKETS });
    }
    socket.on('data', (chunk: Buffer) => this.toClient(stream, chunk));
    // Wisp has no half-close: the target's FIN ends the stream (CLOSE 0x02) after the bytes before it.
    socket.once('end', () => this.finish(stream, WispCloseReason.VOLUNTARY));
    socket.once('close', () => this.finish(stream, WispCloseReason.VOLUNTARY));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(stream, socketError(err)));
    const idle = this.ctx.config.limits.idleTimeoutMs;
    if (idle > 0) socket.setTimeout(idle, () => this.fail(stream, new WsocksError(WsocksErrorCode.IDLE_TIMEOUT, `no traffic for ${idle} ms`)));
    if (rest.length > 0) this.toClient(stream, Buffer.from(rest));
    const early = stream.early;
    stream.early = [];
    stream.pending = 0;
    for (const d of early) this.write(stream, d);
    if (this.congested) socket.pause();
    else socket.resume();
  }

  private toTarget(stream: WispStream, data: Buffer): void {
    stream.packets++;
    this.ledger.up(stream.id, data.length);
    if (stream.socket) this.write(stream, data);
    else {
      stream.early.push(data);
      stream.pending += data.length;
      this.checkBound(stream);
    }
    this.maybeContinue(stream);
  }

  private write(stream: WispStream, data: Buffer): void {
    stream.pending += data.length;
    stream.socket!.write(data, () => {
      stream.pending -= data.length;
      this.overloadTimer?.refresh();
      this.maybeContinue(stream);
      this.maybeResumeReading();
    });
    this.checkBound(stream);
  }

  /** Over the bound: the WebSocket is not read (a client that ignores CONTINUE cannot grow the bridge's memory). */
  private checkBound(stream: WispStream): void {
    this.maxPending = Math.max(this.maxPending, stream.pending);
    if (stream.pending > this.ctx.config.limits.window && !this.readPaused) {
      this.readPaused = true;
      this.updateReading();
      this.armOverload(`stream ${stream.id}: its target took nothing of ${stream.pending} bytes`);
    }
  }

  private maybeResumeReading(): void {
    if (!this.readPaused) return;
    const bound = this.ctx.config.limits.window;
    for (const s of this.streams.values()) if (!s.done && s.pending > bound) return;
    this.readPaused = false;
    this.disarmOverload();
    this.updateReading();
  }

  /** CONTINUE once half the packet buffer is used and the stream's bytes toward its target are within the bound. */
  private maybeContinue(stream: WispStream): void {
    if (stream.done || stream.packets < WISP_BUFFER_PACKETS / 2 || stream.pending > this.ctx.config.limits.window / 2) return;
    stream.packets = 0;
    this.send({ type: 'continue', id: stream.id, remaining: WISP_BUFFER_PACKETS });
  }

  private toClient(stream: WispStream, chunk: Buffer): void {
    // After the client's CLOSE the id is free again: bytes the target still sends while its socket drains to its
    // FIN must not reach the client, which may already have opened a new stream with that id.
    if (stream.done) return;
    if (!this.carry(chunk.length)) return;
    this.ledger.down(stream.id, chunk.length);
    const max = this.ctx.config.limits.maxMessageBytes - WISP_HEADER_BYTES;
    for (let at = 0; at < chunk.length; at += max) this.send({ type: 'data', id: stream.id, data: chunk.subarray(at, at + max) });
    if (this.congested) stream.socket?.pause();
  }

  private finish(stream: WispStream, reason: number): void {
    if (stream.done) return;
    this.ledger.targetClosed(stream.id);
    this.remove(stream);
    this.send({ type: 'close', id: stream.id, reason });
    const socket = stream.socket;
    if (socket && !socket.destroyed) {
      socket.setTimeout(0);
      if (socket.writableFinished) socket.destroy();
      else {
        socket.once('finish', () => socket.destroy());
        socket.end();
      }
    }
  }

  private fail(stream: WispStream, error: WsocksError): void {
    if (stream.done) return;
    this.ctx.log(`${this.label}: stream ${stream.id} (${hostForLog(stream.host)}:${stream.port}) failed: ${error.code} ${error.message}`);
    this.ledger.failed(stream.id, error.code, error.message);
    this.remove(stream);
    stream.abort.abort();
    if (stream.socket) resetSocket(stream.socket);
    this.send({ type: 'close', id: stream.id, reason: wispCloseReasonFor(error.code, error.replyCode) });
  }

  /** The client closed the stream: VOLUNTARY ends the target with FIN after the bytes sent; any other reason resets it. */
  private clientClosed(stream: WispStream, reason: number): void {
    this.ledger.clientClosed(stream.id);
    this.remove(stream);
    stream.abort.abort();
    const socket = stream.socket;
    if (!socket || socket.destroyed) return;
    if (reason === WispCloseReason.VOLUNTARY || reason === WispCloseReason.UNKNOWN) {
      socket.setTimeout(0);
      socket.resume();
      socket.once('finish', () => socket.destroy());
      socket.end();
    } else resetSocket(socket);
  }

  private remove(stream: WispStream): void {
    stream.done = true;
    stream.early = [];
    this.streams.delete(stream.id);
    this.ledger.removed(stream.id);
    this.maybeResumeReading();
    this.closeIfDrained();
  }

  private cutAfterGrace(): void {
    if (this.cutTimer || this.ws.readyState === this.ws.CLOSED) return;
    this.cutTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
  }

  private onClosed(code: number, reason: string): void {
    this.ctx.log(`${this.label} closed; at most ${this.maxPending} bytes waited toward one target`);
    clearInterval(this.pinger);
    clearTimeout(this.handshakeTimer);
    this.guard.dispose();
    this.held = [];
    for (const u of [...this.udpStreams.values()]) u.destroy();
    this.udpStreams.clear();
    clearTimeout(this.overloadTimer);
    clearTimeout(this.cutTimer);
    for (const s of [...this.streams.values()]) {
      this.remove(s);
      s.abort.abort();
      if (s.socket) resetSocket(s.socket);
    }
    this.ledger.ended(code, reason);
  }
}
