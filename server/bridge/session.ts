/** One WebSocket on the bridge: parses and checks messages, opens streams through routes, keeps the session alive. */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { closeReason, SESSION_CLOSE_CODES, type SessionCloseErrorCode } from '../../shared/protocol/close-codes.ts';
import { decodeDataFrame, FRAME_HEADER_BYTES } from '../../shared/protocol/frame.ts';
import { udpPayloadRoom } from '../../shared/socks/udp.ts';
import { ClientMessageSchema, StreamIdSchema, type BridgeMessage, type OpenMessage, type TranscriptEntry } from '../../shared/protocol/messages.ts';
import { formatZodError } from '../../shared/config/net-schemas.ts';
import type { BridgeConfig } from './config.ts';
import { dialRoute, type RouteHop } from './dial-route.ts';
import type { Initiators } from '../gssapi/initiators.ts';
import type { TargetPolicy } from './policy.ts';
import { hostForLog } from '../../shared/net/canonical-target.ts';
import type { Resolve } from '../net/resolver.ts';
import { BridgeStream, type StreamHost } from './stream.ts';
import { WindowBudget } from '../../shared/protocol/window-budget.ts';
import { FrameWriter } from './frame-writer.ts';
import { BridgeUdpStream } from './udp-stream.ts';
import { datagramTranscript } from './datagram-transcript.ts';
import { GrantGuard } from './grant-guard.ts';
import { SessionLedger, type BridgeEvent } from './events.ts';
import { scopeDenial, type SessionGrant } from './tokens.ts';
import { OutgoingBudget } from './outgoing-budget.ts';
import type { ReadLease } from './read-lease.ts';

export interface SessionContext {
  config: BridgeConfig;
  policy: TargetPolicy;
  /** The bridge's resolver (config `dns`). */
  resolve: Resolve;
  log: (line: string) => void;
  /** Streams open across the whole bridge, for limits.maxStreams. */
  streamsOpen: () => number;
  /** Structured records of sessions and streams (logs, metrics). */
  emit: (e: BridgeEvent) => void;
  /** A number for the next session, unique in this bridge (names it in the records). */
  sessionNumber: () => number;
  /** The GSS-API credentials of the routes' GSS-API hops (one helper per credential set). */
  gssapi: Initiators;
}

/** How long a session the bridge closes may take to flush its close frame and answer before its socket is cut. */
const CLOSE_GRACE_MS = 1_000;
/** Longest `message` in an error reply; zod's descriptions of hostile input can be long. */
const MAX_ERROR_MESSAGE_CHARS = 300;

export class BridgeSession implements StreamHost {
  private readonly streams = new Map<number, BridgeStream | BridgeUdpStream>();
  private alive = true;
  private readonly pinger: NodeJS.Timeout;
  /**
   * Bytes handed to the WebSocket whose write has not completed (frames, control messages, pongs). Over
   * maxBufferedBytes the WebSocket and every target socket are paused until the buffer drains.
   */
  private readonly budget: OutgoingBudget;
  /** Runs while congested; refreshed whenever bytes drain; closes the session with 4008 when it fires. */
  private overloadTimer: NodeJS.Timeout | undefined;
  private cutTimer: NodeJS.Timeout | undefined;
  /** A signed token's expiry and byte quota. */
  private readonly guard = new GrantGuard((code, message) => this.closeWith(code, message));
  /** Streams open at once: the bridge's limit, or a signed token's smaller one. */
  private readonly maxStreams: number;
  readonly closed: Promise<void>;
  private readonly ledger: SessionLedger;
  /** Set by `drain`: the session closes with 1001 ERR_SHUTTING_DOWN and this message once its last stream ends. */
  private drainMessage: string | undefined;
  /** Which stream resumes first at the next drain (they take turns). */
  private drainTurn = 0;
  /** Data messages go straight to the socket, batched per turn of the event loop (frame-writer.ts). */
  private readonly frames: FrameWriter;
  /** The budget the streams share for growing their upload windows. */
  private readonly uploadWindows: WindowBudget;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    readonly client: string,
    /** What a signed token allows; undefined: the bridge's whole policy (static token or none). */
    private readonly grant: SessionGrant | undefined,
    /** The socket under `ws` (the one given to handleUpgrade): data frames are written to it directly. */
    socket: Duplex,
  ) {
    const { limits } = ctx.config;
    this.budget = new OutgoingBudget(limits.maxBufferedBytes, {
      congest: () => this.congest(),
      progress: () => this.overloadTimer?.refresh(),
      decongest: () => this.decongest(),
    });
    this.frames = new FrameWriter(
      socket,
      limits.maxMessageBytes - FRAME_HEADER_BYTES,
      (bytes) => this.budget.written(bytes),
      () => ws.readyState === ws.OPEN,
      { queued: (bytes) => this.budget.queued(bytes), written: (bytes) => this.budget.written(bytes) },
    );
    this.uploadWindows = new WindowBudget(limits.window, Math.max(limits.window, limits.maxWindow), () => this.streams.size);
    const scope = grant?.scope;
    this.maxStreams = Math.min(limits.streamsPerSession, scope?.maxStreams ?? Infinity);
    this.ledger = new SessionLedger(ctx.sessionNumber(), client, ctx.emit);
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (err) {
        // A bug, never the peer's input: log it and end this session only.
        ctx.log(`session from ${client}: internal error: ${(err as Error).stack ?? String(err)}`);
        ws.close(1011, 'internal error');
      }
    });
    // ws has already started the closing handshake (1009, 1002...): give its close frame a moment to flush.
    ws.on('error', () => this.cutAfterGrace());
    ws.on('pong', () => (this.alive = true));
    ws.on('ping', (data: Buffer) => this.onPing(data));
    ws.once('close', (code: number, reason: Buffer) => this.onClosed(code, reason.toString('utf8')));
    this.pinger = setInterval(() => {
      if (!this.alive) return ws.terminate();
      this.alive = false;
      ws.ping();
    }, limits.pingIntervalMs);
    this.guard.set(grant);
    this.sendControl({
      type: 'hello',
      version: 1,
      limits: { maxStreams: this.maxStreams, maxMessageBytes: limits.maxMessageBytes, window: limits.window },
      routes: Object.keys(ctx.config.routes).filter((r) => !scope?.routes || scope.routes.includes(r)),
      clientChains: ctx.config.clientChains && scope?.via !== false,
    });
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Whether the outgoing buffer is over its bound: streams stop reading from their targets until `onDrain`. */
  get congested(): boolean {
    return this.budget.congested;
  }

  /** Bytes queued for the client and not yet written to its socket. */
  get bufferedBytes(): number {
    return this.budget.bytes;
  }

  sendControl(message: BridgeMessage): void {
    // Replies are what a client can make the bridge produce at will (errors, dropped-datagram notices): a client
    // that reads nothing and keeps asking for them is closed once its buffer reaches twice the bound.
    if (this.budget.congested && this.budget.bytes > 2 * this.budget.bound) {
      return this.closeWith(WsocksErrorCode.SESSION_OVERLOADED, 'the client reads nothing and keeps sending messages that need an answer');
    }
    this.ledger.sent(message);
    this.send(JSON.stringify(message));
  }

  /** Stream bytes: batched with the stream's other bytes of this turn into messages under the limit (frame-writer.ts). */
  sendData(id: number, data: Uint8Array, lease?: ReadLease): void {
    if (this.ws.readyState !== this.ws.OPEN || !this.carry(data.length)) return;
    this.ledger.down(id, data.length);
    this.budget.queued(data.length);
    this.frames.data(id, data, lease);
  }

  /** A datagram: a message of its own. */
  sendDatagram(id: number, datagram: Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN || !this.carry(datagram.length)) return;
    this.ledger.down(id, datagram.length);
    this.budget.queued(datagram.length);
    this.frames.message(id, datagram);
  }

  /** Every control message goes through here, so the outgoing buffer is counted and bounded. */
  private send(payload: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // After the data queued before it, packed with the turn's other control messages into one write
    // (frame-writer.ts): what it holds is its bytes.
    const bytes = Buffer.byteLength(payload);
    this.budget.queued(bytes);
    this.frames.text(payload, bytes);
  }

  /**
   * A ping is answered unless the outgoing buffer is over its bound; then it is skipped (RFC 6455 §5.5.3 lets a
   * pong answer only the latest ping), and the session stops reading until the client reads.
   */
  private onPing(data: Buffer): void {
    if (this.budget.congested || this.ws.readyState !== this.ws.OPEN) return;
    const bytes = data.length + 2;
    this.budget.queued(bytes);
    this.ws.pong(data, false, () => this.budget.written(bytes));
  }

  /** Over the bound: stop reading from the client and from every target; start the overload clock. */
  private congest(): void {
    this.ws.pause();
    const { overloadTimeoutMs, maxBufferedBytes } = this.ctx.config.limits;
    this.overloadTimer = setTimeout(() => {
      this.ctx.log(`session from ${this.client}: closed, ${this.budget.bytes} bytes unread for ${overloadTimeoutMs} ms`);
      this.closeWith(WsocksErrorCode.SESSION_OVERLOADED, `the client read nothing of ${this.budget.bytes} buffered bytes (bound ${maxBufferedBytes}) for ${overloadTimeoutMs} ms`);
    }, overloadTimeoutMs);
  }

  private decongest(): void {
    clearTimeout(this.overloadTimer);
    this.overloadTimer = undefined;
    this.ws.resume();
    // Streams resume in turn from a different one each time: the first to resume fill the buffer again, and a fixed
    // order would starve the last ones.
    const streams = [...this.streams.values()];
    const first = this.drainTurn++ % Math.max(1, streams.length);
    for (let i = 0; i < streams.length; i++) streams[(first + i) % streams.length]!.onDrain();
  }

  /** Ends the session with a session-level close code and `<CODE> <message>`; cuts the socket if that cannot flush. */
  closeWith(code: SessionCloseErrorCode, message: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.frames.flush();
    this.ws.close(SESSION_CLOSE_CODES[code], closeReason(code, message));
    this.cutAfterGrace();
  }

  /** The session is closing: its socket is cut if the closing handshake does not finish within the grace. */
  private cutAfterGrace(): void {
    if (this.cutTimer || this.ws.readyState === this.ws.CLOSED) return;
    this.cutTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.ws.once('close', () => clearTimeout(this.cutTimer));
  }

  /** Counts payload bytes against a signed token's maxBytes; over it, the session is closed (4402) and false returned. */
  private carry(bytes: number): boolean {
    return this.guard.carry(bytes);
  }

  removed(id: number): void {
    this.streams.delete(id);
    this.ledger.removed(id);
    this.closeIfDrained();
  }

  /** The bridge is going away: the session ends with 1001 ERR_SHUTTING_DOWN once its streams have ended. */
  drain(message: string): void {
    this.drainMessage = message;
    this.closeIfDrained();
  }

  private closeIfDrained(): void {
    if (this.drainMessage !== undefined && this.streams.size === 0) this.closeWith(WsocksErrorCode.SHUTTING_DOWN, this.drainMessage);
  }

  private error(code: WsocksError['code'], message: string, id?: number): void {
    const short = message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}...` : message;
    this.sendControl({ type: 'error', ...(id !== undefined ? { id } : {}), code, message: short });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodeDataFrame(data);
      if (!frame) return this.error(WsocksErrorCode.BAD_FRAME, 'a data frame needs a 4-byte stream id and at least one byte');
      // Data for a stream that just closed is a normal race: dropped.
      const stream = this.streams.get(frame.id);
      if (stream && this.carry(frame.data.length)) {
        this.ledger.up(frame.id, frame.data.length);
        stream.onData(frame.data);
      }
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      return this.error(WsocksErrorCode.BAD_MESSAGE, 'control messages are JSON');
    }
    const parsed = ClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      // Only an id the protocol allows is echoed (2^32, 0 or 1.5 would make the answer itself invalid).
      const rawId = (json as { id?: unknown } | null)?.id;
      const id = StreamIdSchema.safeParse(rawId).success ? (rawId as number) : undefined;
      const known = id !== undefined && this.streams.has(id) ? undefined : id;
      return this.error(WsocksErrorCode.BAD_MESSAGE, formatZodError(parsed.error).replace(/\n/g, '; '), known);
    }
    const m = parsed.data;
    if (m.type === 'open') {
      this.open(m).catch((err: unknown) => {
        this.ctx.log(`stream ${m.id} from ${this.client}: internal error: ${(err as Error).stack ?? String(err)}`);
        const stream = this.streams.get(m.id);
        if (stream) stream.fail(new WsocksError(WsocksErrorCode.CONNECT_FAILED, 'internal error'));
      });
      return;
    }
    const stream = this.streams.get(m.id);
    if (!stream) return; // closed meanwhile
    if (m.type === 'credit') stream.onCredit(m.bytes);
    else if (m.type === 'end') stream.onEnd();
    else {
      this.ledger.clientClosed(m.id);
      stream.onClose();
    }
  }

  private async open(m: OpenMessage): Promise<void> {
    const { config } = this.ctx;
    // Without an id: an error naming the stream would end the stream that already has it.
    if (this.streams.has(m.id)) return this.error(WsocksErrorCode.STREAM_EXISTS, `stream ${m.id} is already open`);
    if (this.streams.size >= this.maxStreams) {
      const code = this.maxStreams < config.limits.streamsPerSession ? WsocksErrorCode.TOKEN_SCOPE : WsocksErrorCode.TOO_MANY_STREAMS;
      return this.error(code, `at most ${this.maxStreams} streams per session`, m.id);
    }
    const denial = this.grant && scopeDenial(this.grant.scope, m);
    if (denial) return this.error(WsocksErrorCode.TOKEN_SCOPE, denial, m.id);
    if (this.ctx.streamsOpen() >= config.limits.maxStreams) {
      return this.error(WsocksErrorCode.BRIDGE_FULL, `the bridge is at its limit of ${config.limits.maxStreams} streams`, m.id);
    }
    let hops: RouteHop[] = [];
    if (m.route !== undefined) {
      const route = Object.hasOwn(config.routes, m.route) ? config.routes[m.route] : undefined;
      if (!route) return this.error(WsocksErrorCode.UNKNOWN_ROUTE, `no route named ${JSON.stringify(m.route)}`, m.id);
      hops = [...route.hops];
    } else if (m.via !== undefined) {
      if (!config.clientChains) {
        return this.error(WsocksErrorCode.CLIENT_CHAINS_DISABLED, 'this bridge does not accept client-described chains', m.id);
      }
      hops = [...m.via];
    }
    const command = m.command ?? 'connect';
    if (command === 'udp') return this.openUdp(m, hops);
    const stream = new BridgeStream(m.id, this, m.window, this.uploadWindows, config.limits.idleTimeoutMs);
    this.ledger.opening(m);
    this.streams.set(m.id, stream);
    try {
      const dialed = await dialRoute({
        ...this.dialOptions(m, hops, stream.abort.signal),
        host: m.host ?? '0.0.0.0',
        port: m.port ?? 0,
        command,
        bindTimeoutMs: config.limits.bindTimeoutMs,
        onBound: (b) => this.sendControl({ type: 'bound', id: m.id, address: b.host, port: b.port }),
        // A direct target is read into reused buffers (its bytes go through sendData's leases, frame-writer.ts).
        directReads: true,
      });
      stream.attach(dialed.socket, { address: dialed.remoteAddress, port: dialed.remotePort }, dialed.rest, dialed.reads);
    } catch (err) {
      this.failStream(stream, m, err);
    }
  }

  private async openUdp(m: OpenMessage, hops: RouteHop[]): Promise<void> {
    const { config } = this.ctx;
    const limit = config.limits.maxMessageBytes;
    const stream = new BridgeUdpStream(m.id, this, {
      policy: this.ctx.policy,
      resolve: this.ctx.resolve,
      namesAtProxy: m.route !== undefined && config.routes[m.route]?.names === 'proxy',
      addressesToRelay: hops.at(-1)?.resolve === 'local',
      target: m.host !== undefined && m.port !== undefined ? { host: m.host, port: m.port } : undefined,
      maxDatagramBytes: Math.min(config.limits.maxDatagramBytes, udpPayloadRoom(limit - FRAME_HEADER_BYTES)),
      idleTimeoutMs: config.limits.idleTimeoutMs,
      canSend: (bytes) => bytes + FRAME_HEADER_BYTES <= limit && !this.budget.congested && this.budget.bytes < config.limits.window,
      onDrop: (reason) => this.ctx.log(`stream ${m.id} from ${this.client}: dropped a datagram: ${reason}`),
      onDatagram: m.inspect ? datagramTranscript(hops.length, (entry) => this.sendControl({ type: 'transcript', id: m.id, entry })) : undefined,
    });
    this.ledger.opening(m);
    this.streams.set(m.id, stream);
    try {
      let via: Parameters<BridgeUdpStream['start']>[0];
      await stream.judgeTarget(hops.length === 0);
      if (hops.length > 0) {
        // UDP ASSOCIATE with DST 0.0.0.0:0: the bridge's UDP address is not known to it in advance.
        const dialed = await dialRoute({ ...this.dialOptions(m, hops, stream.abort.signal), host: '0.0.0.0', port: 0, command: 'udp' });
        via = { control: dialed.socket, relay: { host: dialed.remoteAddress, port: dialed.remotePort } };
      }
      const local = await stream.start(via);
      this.sendControl({ type: 'opened', id: m.id, remoteAddress: local.address, remotePort: local.port, window: config.limits.window });
    } catch (err) {
      this.failStream(stream, m, err);
    }
  }

  /** What every dial of an open shares: the hops, policy, deadline, cancellation and transcript. */
  private dialOptions(m: OpenMessage, hops: RouteHop[], signal: AbortSignal) {
    return {
      hops,
      checkFirstHop: m.via !== undefined,
      policy: this.ctx.policy,
      resolve: this.ctx.resolve,
      gssapi: this.ctx.gssapi,
      namesAtProxy: m.route !== undefined && this.ctx.config.routes[m.route]?.names === 'proxy',
      timeoutMs: this.ctx.config.limits.handshakeTimeoutMs,
      signal,
      onEntry: m.inspect ? (entry: TranscriptEntry) => this.sendControl({ type: 'transcript', id: m.id, entry }) : undefined,
    };
  }

  private failStream(stream: BridgeStream | BridgeUdpStream, m: OpenMessage, err: unknown): void {
    const e = err instanceof WsocksError ? err : new WsocksError(WsocksErrorCode.CONNECT_FAILED, (err as Error).message);
    this.ctx.log(`stream ${m.id} from ${this.client} (${m.command ?? 'connect'} ${m.host === undefined ? '' : hostForLog(m.host)}:${m.port ?? ''}) failed: ${e.code} ${e.message}${logDetail(e)}`);
    stream.fail(e);
  }

  private onClosed(code: number, reason: string): void {
    this.frames.discard();
    clearInterval(this.pinger);
    clearTimeout(this.overloadTimer);
    this.guard.dispose();
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    this.ledger.ended(code, reason);
  }
}

/** An error's cause, for the log only: the unredacted words behind a message cleaned for the browser (GSS-API paths). */
function logDetail(e: WsocksError): string {
  return e.cause instanceof Error && e.cause.message !== e.message ? ` (detail: ${e.cause.message})` : '';
}
