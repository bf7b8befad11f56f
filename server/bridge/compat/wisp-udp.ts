/**
 * A Wisp v2 UDP stream (stream type 0x02, docs/compat.md): each DATA packet is one datagram to the stream's
 * target, each datagram from it one DATA packet. It is the bridge's own datagram stream (server/bridge/udp-stream.ts:
 * policy on the target before anything is sent, direct or through a UDP ASSOCIATE at the route's SOCKS5 last hop),
 * with the RFC 1928 header that stream speaks added and removed here. No CONTINUE flow control (the spec has none
 * for UDP): datagrams the WebSocket cannot take are dropped, as a network would.
 */
import { decodeUdpDatagram, encodeUdpDatagram } from '../../../shared/socks/udp.ts';
import type { BridgeMessage } from '../../../shared/protocol/messages.ts';
import type { WsocksError, WsocksErrorCodeValue } from '../../../shared/protocol/errors.ts';
import { WispCloseReason } from '../../../shared/protocol/wisp-frame.ts';
import { wispCloseReasonFor } from '../../../shared/protocol/wisp-close-reason.ts';
import { hostForLog } from '../../../shared/net/canonical-target.ts';
import { BridgeUdpStream, DROPPED_NOTICES_PER_SECOND } from '../udp-stream.ts';
import { CoalescedNotices } from '../../net/coalesced-notices.ts';
import type { StreamHost } from '../stream.ts';
import type { SessionContext } from '../session.ts';
import { dialTarget, routeHops } from './dial-target.ts';

/** What a Wisp UDP stream needs from its session. */
export interface WispUdpHost {
  readonly congested: boolean;
  /** Whether a DATA packet of this many payload bytes fits in a message and the outgoing buffer now. */
  canSend(payloadBytes: number): boolean;
  sendData(id: number, data: Uint8Array): void;
  /** Ends the stream toward the client with CLOSE `reason` (after `error`, if one); `streamGone` follows. */
  sendClose(id: number, reason: number, error?: { code: string; message: string }): void;
  /** The stream is gone, whatever the reason (called once). */
  streamGone(stream: WispUdpStream): void;
}

export class WispUdpStream implements StreamHost {
  readonly kind = 'udp';
  private readonly inner: BridgeUdpStream;
  private started = false;
  /** Datagrams sent before the association was ready (at most limits.window bytes; more are dropped). */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  /** Log lines for datagrams from the target that the WebSocket could not take: a flood gets a few. */
  private readonly fullNotices: CoalescedNotices<string>;
  done = false;

  constructor(
    readonly id: number,
    readonly host: string,
    readonly port: number,
    private readonly session: WispUdpHost,
    private readonly ctx: SessionContext,
    private readonly route: string | undefined,
    private readonly label: string,
  ) {
    const { config } = ctx;
    this.fullNotices = new CoalescedNotices<string>(DROPPED_NOTICES_PER_SECOND, (reason, folded) =>
      ctx.log(`${label}: stream ${id}: dropped a datagram: ${reason}${folded > 0 ? ` (and ${folded} more since the last notice)` : ''}`),
    );
    this.inner = new BridgeUdpStream(id, this, {
      policy: ctx.policy,
      resolve: ctx.resolve,
      namesAtProxy: route !== undefined && config.routes[route]?.names === 'proxy',
      addressesToRelay: routeHops(ctx, route).at(-1)?.resolve === 'local',
      target: { host, port },
      maxDatagramBytes: Math.min(config.limits.maxDatagramBytes, config.limits.maxMessageBytes - 5),
      idleTimeoutMs: config.limits.idleTimeoutMs,
      // The inner stream hands over header + payload; the header does not travel in Wisp.
      canSend: () => true,
      onDrop: (reason) => ctx.log(`${label}: stream ${id}: dropped a datagram: ${reason}`),
    });
  }

  get congested(): boolean {
    return this.session.congested;
  }

  /** Judges the target by policy, associates at the route's last hop (if any) and binds; resolves once ready. */
  async open(): Promise<void> {
    const hops = routeHops(this.ctx, this.route);
    await this.inner.judgeTarget(hops.length === 0);
    let via: Parameters<BridgeUdpStream['start']>[0];
    if (hops.length > 0) {
      const dialed = await dialTarget(this.ctx, '0.0.0.0', 0, this.route, this.inner.abort.signal, 'udp');
      via = { control: dialed.socket, relay: { host: dialed.remoteAddress, port: dialed.remotePort } };
    }
    if (this.done) {
      via?.control.destroy();
      return;
    }
    await this.inner.start(via);
    this.started = true;
    const early = this.early;
    this.early = [];
    for (const d of early) this.fromClient(d);
  }

  /** One DATA packet from the client: one datagram to the target. */
  fromClient(data: Uint8Array): void {
    if (this.done) return;
    if (!this.started) {
      if (this.earlyBytes + data.length > this.ctx.config.limits.window) return;
      this.earlyBytes += data.length;
      this.early.push(data.slice());
      return;
    }
    this.inner.onData(encodeUdpDatagram({ host: this.host, port: this.port, data }));
  }

  /** The client closed the stream (any reason: UDP has no FIN to send). */
  clientClosed(): void {
    this.done = true;
    this.inner.destroy();
  }

  fail(error: WsocksError): void {
    this.inner.fail(error);
  }

  destroy(): void {
    this.done = true;
    this.inner.destroy();
  }

  // StreamHost, for the inner stream (a UDP stream: it sends datagrams only).
  sendData(id: number, data: Uint8Array): void {
    this.sendDatagram(id, data);
  }

  sendDatagram(_id: number, datagram: Uint8Array): void {
    const decoded = decodeUdpDatagram(datagram);
    if (decoded.status !== 'done') return;
    const payload = decoded.message.data;
    if (!this.session.canSend(payload.length)) return this.fullNotices.push('WebSocket buffer full');
    this.session.sendData(this.id, payload);
  }

  sendControl(m: BridgeMessage): void {
    if (m.type === 'error') {
      this.ctx.log(`${this.label}: UDP stream ${this.id} (${hostForLog(this.host)}:${this.port}) failed: ${m.code} ${m.message}`);
      this.session.sendClose(this.id, wispCloseReasonFor(m.code as WsocksErrorCodeValue, m.replyCode), m);
    } else if (m.type === 'close') this.session.sendClose(this.id, WispCloseReason.VOLUNTARY);
  }

  removed(): void {
    this.done = true;
    this.fullNotices.close();
    this.early = [];
    this.session.streamGone(this);
  }
}
