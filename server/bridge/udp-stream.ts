/**
 * A datagram stream on the bridge side. Every data frame, both ways, carries one datagram with the RFC 1928 §7
 * header in front (built and parsed by the shared codec), so a datagram is never merged or split and always names
 * its peer. Through a route, datagrams go as they are to the last hop's UDP relay, and the TCP control connection is
 * kept open for the association's life (RFC 1928 §7); directly, the bridge sends the payload itself, each
 * destination checked by policy after resolution. There are no credits: datagrams that the WebSocket cannot take
 * (its buffer is over the limit) are dropped, as a network would drop them.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP, type Socket } from 'node:net';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../shared/socks/udp.ts';
import { canonicalTarget, requireCanonicalTarget, type CanonicalTarget } from '../../shared/net/canonical-target.ts';
import { WsocksError, WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';
import { formatHostPort, resolveHost, unmapIPv4 } from '../net/dial.ts';
import type { Resolve } from '../net/resolver.ts';
import type { TargetPolicy } from './policy.ts';
import { errorMessage, type StreamHost } from './stream.ts';
import { CoalescedNotices } from '../net/coalesced-notices.ts';

/**
 * `dropped` messages a stream sends at most in a second (docs/protocol.md 5.2); past it they are coalesced: the next
 * one carries the running count. Log lines about stray datagrams from the network are held to the same rate.
 */
export const DROPPED_NOTICES_PER_SECOND = 10;

export interface UdpStreamOptions {
  policy: TargetPolicy;
  /** The bridge's resolver (config `dns`); getaddrinfo when absent. */
  resolve?: Resolve | undefined;
  /** Through a route marked `names: "proxy"`: names go to the relay judged by host rules only. */
  namesAtProxy?: boolean | undefined;
  /** Through a route whose last hop says `resolve: "local"`: headers carry the checked address, never the name. */
  addressesToRelay?: boolean | undefined;
  /** The target the stream was opened with, if any: every datagram must name it. */
  target?: { host: string; port: number } | undefined;
  /** Largest payload (after the header) accepted from the client. */
  maxDatagramBytes: number;
  idleTimeoutMs: number;
  /** Whether the WebSocket can take a datagram frame of this many bytes now (it is never split). */
  canSend: (bytes: number) => boolean;
  onDrop?: (reason: string) => void;
  /**
   * Sees each datagram as it travelled with its RFC 1928 §7 header (for the transcript): through a relay the bytes
   * sent to or received from it (`hop` is the relay's hop); directly the frame exchanged with the client (`hop` 0),
   * the only place a header exists then.
   */
  onDatagram?: ((direction: 'sent' | 'received', wire: Uint8Array, hop: 'relay' | 'client') => void) | undefined;
}

/** Where a datagram goes: the address to send to (direct) or the canonical host for the relay's header. */
type Decision = { ok: true; host: string } | { ok: false; code: WsocksErrorCodeValue; message: string };

export class BridgeUdpStream {
  private udp: UdpSocket | undefined;
  private control: Socket | undefined;
  private relay: { host: string; port: number } | undefined;
  /** Direct mode: addresses we sent to; replies from anywhere else are dropped. */
  private readonly contacted = new Set<string>();
  /** The target, canonical, and (once judged) where its datagrams go. */
  private target: { canonical: CanonicalTarget; port: number; sendTo: string | undefined } | undefined;
  private droppedCount = 0;
  /** Notices of the client's refused datagrams (a `dropped` message and a log line), rate-limited. */
  private readonly dropNotices = new CoalescedNotices<{ code: WsocksErrorCodeValue; message: string }>(DROPPED_NOTICES_PER_SECOND, (n, folded) => {
    this.options.onDrop?.(folded > 0 ? `${n.message} (and ${folded} more since the last notice)` : n.message);
    if (!this.finished) this.host.sendControl({ type: 'dropped', id: this.id, code: n.code, message: n.message, dropped: this.droppedCount });
  });
  /** Log lines about datagrams from the network that are not relayed (strays, a full WebSocket), rate-limited. */
  private readonly strayNotices = new CoalescedNotices<string>(DROPPED_NOTICES_PER_SECOND, (reason, folded) =>
    this.options.onDrop?.(folded > 0 ? `${reason} (and ${folded} more since the last notice)` : reason),
  );
  private finished = false;
  private idle: NodeJS.Timeout | undefined;
  readonly abort = new AbortController();

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    private readonly options: UdpStreamOptions,
  ) {}

  /**
   * Judges the target the stream is opened with, before anything is dialed: ERR_BAD_TARGET or ERR_POLICY_DENIED
   * make the open fail. `direct`: the bridge resolves a name once here and sends every datagram to the address it
   * checked. Through a relay, the canonical host goes in each header.
   */
  async judgeTarget(direct: boolean): Promise<void> {
    const t = this.options.target;
    if (!t) return;
    const canonical = requireCanonicalTarget(t.host);
    const decision = await this.decide(canonical, t.port, direct);
    if (!decision.ok) throw new WsocksError(decision.code, decision.message);
    this.target = { canonical, port: t.port, sendTo: decision.host };
  }

  /** Starts the stream: through a relay (with its control connection) or directly. */
  async start(via?: { control: Socket; relay: { host: string; port: number } }): Promise<{ address: string; port: number }> {
    // Direct: one dual-stack socket for IPv4 and IPv6 destinations, IPv4 only where the host has no IPv6.
    const udp = via ? await bound(isIP(via.relay.host) === 6 ? 'udp6' : 'udp4') : await bound('udp6').catch(() => bound('udp4'));
    if (this.finished) {
      // Closed while binding (the client or session went away): nothing may outlive the stream.
      udp.close();
      via?.control.destroy();
      throw new WsocksError(WsocksErrorCode.STREAM_FAILED, 'the stream closed while it was opening');
    }
    this.udp = udp;
    udp.on('message', (msg, rinfo) => this.fromNetwork(msg, rinfo));
    udp.on('error', (err) => this.fail(new WsocksError(WsocksErrorCode.STREAM_FAILED, `UDP socket failed: ${err.message}`)));
    if (via) {
      this.relay = via.relay;
      this.control = via.control;
      via.control.on('error', () => {});
      // The proxy ending the control connection (FIN or reset) ends the association (RFC 1928 §7).
      via.control.once('end', () => this.closeFromNetwork());
      via.control.once('close', () => this.closeFromNetwork());
      via.control.on('data', () => {}); // nothing is expected on the control connection; keep it flowing
      via.control.resume();
    }
    this.touch();
    return this.relay ? { address: this.relay.host, port: this.relay.port } : { address: '0.0.0.0', port: udp.address().port };
  }

  private touch(): void {
    if (this.options.idleTimeoutMs <= 0) return;
    if (this.idle) this.idle.refresh();
    else this.idle = setTimeout(() => this.fail(new WsocksError(WsocksErrorCode.IDLE_TIMEOUT, 'no datagrams for a while')), this.options.idleTimeoutMs);
  }

  /**
   * Tells the client a datagram it sent was not sent (a `dropped` message carrying the running count), and logs it;
   * at most DROPPED_NOTICES_PER_SECOND a second, the rest folded into the next notice.
   */
  private dropped(code: WsocksErrorCodeValue, message: string): void {
    if (this.finished) return;
    this.droppedCount++;
    this.dropNotices.push({ code, message });
  }

  /** A datagram from the client: RFC 1928 header + payload. */
  onData(frame: Uint8Array): void {
    if (this.finished || !this.udp) return;
    const decoded = decodeUdpDatagram(frame);
    if (decoded.status !== 'done') return this.dropped(WsocksErrorCode.BAD_FRAME, 'malformed datagram header from the client');
    const d = decoded.message;
    if (d.frag !== 0) return this.dropped(WsocksErrorCode.BAD_FRAME, 'fragmented datagram from the client');
    if (d.data.length > this.options.maxDatagramBytes) {
      return this.fail(new WsocksError(WsocksErrorCode.DATAGRAM_TOO_LARGE, `datagram of ${d.data.length} bytes; the limit is ${this.options.maxDatagramBytes}`));
    }
    this.touch();
    const c = canonicalTarget(d.host);
    if (!c.ok) return this.dropped(WsocksErrorCode.BAD_TARGET, c.message);
    const where = formatHostPort(c.target.host, d.port);
    if (this.target) {
      if (c.target.host !== this.target.canonical.host || d.port !== this.target.port) {
        const t = formatHostPort(this.target.canonical.host, this.target.port);
        return this.dropped(WsocksErrorCode.POLICY_DENIED, `datagram to ${where}: this stream is held to its target ${t}`);
      }
      return this.send(this.target.sendTo!, d.port, d.data, frame);
    }
    this.decide(c.target, d.port, !this.relay).then(
      (decision) => {
        if (!decision.ok) return this.dropped(decision.code, `datagram to ${decision.message}`);
        this.send(decision.host, d.port, d.data, frame);
      },
      (err: unknown) => this.dropped(WsocksErrorCode.CONNECT_FAILED, `datagram to ${where}: ${(err as Error).message}`),
    );
  }

  /**
   * Judges a destination. Direct: the address to send to (a name resolved by the bridge, an allowed address of
   * it). Relay: the host for the header (a literal judged; a name resolved and every address judged, then the name
   * goes on, or the checked address when the last hop resolves locally; unless the route leaves names to its proxy).
   */
  private async decide(t: CanonicalTarget, port: number, direct: boolean): Promise<Decision> {
    const where = formatHostPort(t.host, port);
    const denied = (message: string): Decision => ({ ok: false, code: WsocksErrorCode.POLICY_DENIED, message });
    if (!direct && t.kind === 'domain' && this.options.namesAtProxy) {
      const v = this.options.policy.checkNameOnly(t.host, port);
      return v.allow ? { ok: true, host: t.host } : denied(`${where}: ${v.reason}`);
    }
    let addresses: string[];
    try {
      addresses = t.kind === 'domain' ? await (this.options.resolve ?? resolveHost)(t.host, this.abort.signal) : [t.host];
    } catch (err) {
      return { ok: false, code: WsocksErrorCode.CONNECT_FAILED, message: `${where}: ${(err as Error).message}` };
    }
    const name = t.kind === 'domain' ? t.host : undefined;
    const verdicts = addresses.map((a) => ({ a, v: this.options.policy.checkAddress(a, port, name) }));
    const allowed = verdicts.find((x) => x.v.allow);
    const refused = verdicts.find((x) => !x.v.allow);
    if (direct) return allowed ? { ok: true, host: allowed.a } : denied(`${where}: ${refused?.v.reason ?? 'no address'}`);
    if (refused) return denied(`${where}: ${refused.a}: ${refused.v.reason}`);
    return { ok: true, host: this.options.addressesToRelay && allowed ? allowed.a : t.host };
  }

  /**
   * Sends a judged datagram: to the relay with a header naming `host`, or directly to the address `host`. `frame` is
   * the client's datagram with its header, as it came (for the transcript of a direct stream).
   */
  private send(host: string, port: number, data: Uint8Array, frame: Uint8Array): void {
    if (this.finished || !this.udp) return;
    if (this.relay) {
      const wire = encodeUdpDatagram({ host, port, data });
      this.options.onDatagram?.('sent', wire, 'relay');
      this.udp.send(wire, this.relay.port, this.relay.host);
      return;
    }
    const address = unmapIPv4(host);
    const dual = this.udp.address().family === 'IPv6';
    if (!dual && isIP(address) === 6) {
      return this.dropped(WsocksErrorCode.CONNECT_FAILED, `datagram to ${formatHostPort(address, port)}: the bridge has no IPv6 UDP socket`);
    }
    // dgram throws (not calls back) for port 0 and other bad arguments.
    if (port === 0) return this.dropped(WsocksErrorCode.CONNECT_FAILED, `datagram to ${formatHostPort(address, port)}: port 0`);
    this.contacted.add(address);
    this.options.onDatagram?.('sent', frame, 'client');
    try {
      this.udp.send(data, port, dual && isIP(address) === 4 ? `::ffff:${address}` : address, (err) => {
        if (err) this.dropped(WsocksErrorCode.CONNECT_FAILED, `datagram to ${formatHostPort(address, port)}: ${err.message}`);
      });
    } catch (err) {
      this.dropped(WsocksErrorCode.CONNECT_FAILED, `datagram to ${formatHostPort(address, port)}: ${(err as Error).message}`);
    }
  }
  private fromNetwork(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.finished) return;
    const from = unmapIPv4(rinfo.address);
    let datagram: Uint8Array;
    if (this.relay) {
      if (from !== unmapIPv4(this.relay.host)) return this.strayNotices.push(`datagram from ${from}, not the relay`);
      datagram = msg;
    } else {
      if (!this.contacted.has(from)) return this.strayNotices.push(`datagram from ${from}, which was never sent to`);
      datagram = encodeUdpDatagram({ host: from, port: rinfo.port, data: msg });
    }
    if (!this.options.canSend(datagram.length)) return this.strayNotices.push('datagram too large for a message, or WebSocket buffer full');
    this.touch();
    this.options.onDatagram?.('received', datagram, this.relay ? 'relay' : 'client');
    this.host.sendDatagram(this.id, datagram);
  }

  onCredit(): void {}
  onEnd(): void {}
  /** Datagrams that could not be sent were dropped; there is nothing to resume. */
  onDrain(): void {}

  onClose(): void {
    this.abort.abort();
    this.teardown();
  }

  destroy(): void {
    this.abort.abort();
    this.teardown();
  }

  private closeFromNetwork(): void {
    if (this.finished) return;
    this.host.sendControl({ type: 'close', id: this.id });
    this.teardown();
  }

  fail(error: WsocksError): void {
    if (this.finished) return;
    this.host.sendControl(errorMessage(this.id, error));
    this.teardown();
  }

  private teardown(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.idle);
    this.dropNotices.close();
    this.strayNotices.close();
    this.udp?.close();
    this.control?.destroy();
    this.host.removed(this.id);
  }
}

/** A UDP socket bound to an ephemeral port on every address of its family (udp6: dual-stack). */
function bound(type: 'udp4' | 'udp6'): Promise<UdpSocket> {
  const udp = createSocket({ type, ipv6Only: false });
  return new Promise((resolve, reject) => {
    udp.once('error', (err) => {
      udp.close();
      reject(err);
    });
    udp.bind(0, type === 'udp6' ? '::' : '0.0.0.0', () => {
      udp.removeAllListeners('error');
      resolve(udp);
    });
  });
}
