/**
 * What happens on a bridge, as structured records: the CLI writes them as JSON log lines, metrics count them.
 * They name clients, targets and routes, never a token, a password or a route's credentials.
 */
import { hostForLog } from '../../shared/net/canonical-target.ts';
import { WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { BridgeMessage, OpenMessage } from '../../shared/protocol/messages.ts';

/** Which protocol a session speaks: wsocks.v1, or a compat endpoint's (docs/compat.md). */
export type SessionProtocol = 'wsocks' | 'wisp' | 'websockify' | 'wsproxy';

export type BridgeEvent =
  | { event: 'session_start'; session: number; client: string; protocol: SessionProtocol }
  | {
      event: 'session_end';
      session: number;
      client: string;
      protocol: SessionProtocol;
      durationMs: number;
      closeCode: number;
      closeReason: string;
      streams: number;
      bytesUp: number;
      bytesDown: number;
    }
  | { event: 'stream_open'; session: number; client: string; protocol: SessionProtocol; stream: number; command: string; route: string; target: string; latencyMs: number }
  | {
      event: 'stream_end';
      session: number;
      client: string;
      protocol: SessionProtocol;
      stream: number;
      command: string;
      route: string;
      target: string;
      /** Client -> target payload bytes. */
      bytesUp: number;
      /** Target -> client payload bytes. */
      bytesDown: number;
      durationMs: number;
      /** `closed` (both ways ended), `client_closed` (the client's close), `session_closed`, or the error code. */
      reason: string;
    }
  /** An `error` message the bridge sent (stream or session level). */
  | { event: 'error'; session: number; client: string; protocol: SessionProtocol; stream?: number; code: string; message: string }
  | { event: 'upgrade_refused'; client: string; code: string; message: string };

/** Error codes that are a policy decision (counted as denials, by this code). */
export const DENIAL_CODES: ReadonlySet<string> = new Set([
  WsocksErrorCode.POLICY_DENIED,
  WsocksErrorCode.TOKEN_SCOPE,
  WsocksErrorCode.UNKNOWN_ROUTE,
  WsocksErrorCode.CLIENT_CHAINS_DISABLED,
]);

interface StreamRecord {
  command: string;
  route: string;
  target: string;
  startedAt: number;
  bytesUp: number;
  bytesDown: number;
  reason: string | undefined;
}

/** The label for how a stream travels: the route's name, `direct`, or `via` (a chain the client described). */
export function routeLabel(m: Pick<OpenMessage, 'route' | 'via'>): string {
  return m.route !== undefined ? m.route : m.via !== undefined ? 'via' : 'direct';
}

/** Follows one session's streams (from what the session sends and receives) and emits their records. */
export class SessionLedger {
  private readonly streams = new Map<number, StreamRecord>();
  private readonly startedAt = Date.now();
  private streamCount = 0;
  private bytesUp = 0;
  private bytesDown = 0;

  constructor(
    readonly session: number,
    private readonly client: string,
    private readonly emit: (e: BridgeEvent) => void,
    private readonly protocol: SessionProtocol = 'wsocks',
  ) {
    emit({ event: 'session_start', session, client, protocol });
  }

  opening(m: Pick<OpenMessage, 'id' | 'host' | 'port' | 'command' | 'route' | 'via'>): void {
    this.streamCount++;
    const target = m.host === undefined ? '' : `${hostForLog(m.host)}:${m.port ?? ''}`;
    this.streams.set(m.id, { command: m.command ?? 'connect', route: routeLabel(m), target, startedAt: Date.now(), bytesUp: 0, bytesDown: 0, reason: undefined });
  }

  /** Every control message the session sends. */
  sent(m: BridgeMessage): void {
    const id = 'id' in m ? (m.id as number | undefined) : undefined;
    if (m.type === 'error') this.failed(id, m.code, m.message);
    else if (m.type === 'opened' && id !== undefined) this.opened(id);
    else if (m.type === 'close' && id !== undefined) this.targetClosed(id);
  }

  /** An error told to the client, for stream `id` or (none) the session. */
  failed(id: number | undefined, code: string, message: string): void {
    this.emit({ event: 'error', session: this.session, client: this.client, protocol: this.protocol, ...(id !== undefined ? { stream: id } : {}), code, message });
    const s = id === undefined ? undefined : this.streams.get(id);
    if (s) s.reason ??= code;
  }

  /** Stream `id` reached its target. */
  opened(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    const { command, route, target } = s;
    this.emit({ event: 'stream_open', session: this.session, client: this.client, protocol: this.protocol, stream: id, command, route, target, latencyMs: Date.now() - s.startedAt });
  }

  /** The target ended stream `id` (both ways done). */
  targetClosed(id: number): void {
    const s = this.streams.get(id);
    if (s) s.reason ??= 'closed';
  }

  /** The client closed stream `id`. */
  clientClosed(id: number): void {
    const s = this.streams.get(id);
    if (s) s.reason ??= 'client_closed';
  }

  up(id: number, bytes: number): void {
    this.bytesUp += bytes;
    const s = this.streams.get(id);
    if (s) s.bytesUp += bytes;
  }

  down(id: number, bytes: number): void {
    this.bytesDown += bytes;
    const s = this.streams.get(id);
    if (s) s.bytesDown += bytes;
  }

  removed(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    const { startedAt, reason, ...rest } = s;
    this.emit({
      event: 'stream_end',
      session: this.session,
      client: this.client,
      protocol: this.protocol,
      stream: id,
      ...rest,
      durationMs: Date.now() - startedAt,
      reason: reason ?? 'session_closed',
    });
  }

  /** The WebSocket closed: streams still recorded end with `session_closed`, then the session's record. */
  ended(closeCode: number, closeReason: string): void {
    for (const id of [...this.streams.keys()]) this.removed(id);
    this.emit({
      event: 'session_end',
      session: this.session,
      client: this.client,
      protocol: this.protocol,
      durationMs: Date.now() - this.startedAt,
      closeCode,
      closeReason,
      streams: this.streamCount,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
    });
  }
}
