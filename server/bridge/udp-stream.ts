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
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { resolveHost, unmapIPv4 } from '../net/dial.ts';
import type { TargetPolicy } from './policy.ts';
import { errorMessage, type StreamHost } from './stream.ts';

export interface UdpStreamOptions {
  policy: TargetPolicy;
  /** Largest payload (after the header) accepted from the client. */
  maxDatagramBytes: number;
  idleTimeoutMs: number;
  /** Whether the WebSocket can take a datagram frame of this many bytes now (it is never split). */
  canSend: (bytes: number) => boolean;
  onDrop?: (reason: string) => void;
}

export class BridgeUdpStream {
  private udp: UdpSocket | undefined;
  private control: Socket | undefined;
  private relay: { host: string; port: number } | undefined;
  /** Direct mode: addresses we sent to; replies from anywhere else are dropped. */
  private readonly contacted = new Set<string>();
  private finished = false;
  private idle: NodeJS.Timeout | undefined;
  readonly abort = new AbortController();

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    private readonly options: UdpStreamOptions,
  ) {}

  /** Starts the stream: through a relay (with its control connection) or directly. */
  async start(via?: { control: Socket; relay: { host: string; port: number } }): Promise<{ address: string; port: number }> {
    const family = via && isIP(via.relay.host) === 6 ? 'udp6' : 'udp4';
    const udp = createSocket({ type: family });
    this.udp = udp;
    udp.on('message', (msg, rinfo) => this.fromNetwork(msg, rinfo));
    udp.on('error', (err) => this.fail(new WsocksError(WsocksErrorCode.STREAM_FAILED, `UDP socket failed: ${err.message}`)));
    await new Promise<void>((resolve) => udp.bind(0, family === 'udp6' ? '::' : '0.0.0.0', () => resolve()));
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

  /** A datagram from the client: RFC 1928 header + payload. */
  onData(frame: Uint8Array): void {
    if (this.finished || !this.udp) return;
    const decoded = decodeUdpDatagram(frame);
    if (decoded.status !== 'done') return this.options.onDrop?.('malformed datagram header from the client');
    const d = decoded.message;
    if (d.frag !== 0) return this.options.onDrop?.('fragmented datagram from the client');
    if (d.data.length > this.options.maxDatagramBytes) {
      return this.fail(new WsocksError(WsocksErrorCode.DATAGRAM_TOO_LARGE, `datagram of ${d.data.length} bytes; the limit is ${this.options.maxDatagramBytes}`));
    }
    this.touch();
    if (this.relay) {
      const verdict = this.options.policy.checkThroughChain(d.host, d.port);
      if (!verdict.allow) return this.options.onDrop?.(`datagram to ${d.host}:${d.port}: ${verdict.reason}`);
      this.udp.send(frame, this.relay.port, this.relay.host);
      return;
    }
    if (d.port === 0) return this.options.onDrop?.('datagram to port 0');
    this.sendDirect(d.host, d.port, d.data).catch((err: unknown) => this.options.onDrop?.(`datagram to ${d.host}:${d.port}: ${(err as Error).message}`));
  }

  private async sendDirect(host: string, port: number, data: Uint8Array): Promise<void> {
    let addresses: string[];
    try {
      addresses = await resolveHost(host);
    } catch {
      return this.options.onDrop?.(`cannot resolve ${host}`);
    }
    const name = isIP(host) === 0 ? host : undefined;
    const wanted = this.udp?.address().family === 'IPv6' ? 6 : 4;
    const address = addresses.find((a) => isIP(unmapIPv4(a)) === wanted && this.options.policy.checkAddress(a, port, name).allow);
    if (address === undefined) return this.options.onDrop?.(`datagram to ${host}:${port} denied by policy`);
    if (this.finished || !this.udp) return;
    this.contacted.add(unmapIPv4(address));
    this.udp.send(data, port, address);
  }

  private fromNetwork(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.finished) return;
    const from = unmapIPv4(rinfo.address);
    let datagram: Uint8Array;
    if (this.relay) {
      if (from !== unmapIPv4(this.relay.host)) return this.options.onDrop?.(`datagram from ${from}, not the relay`);
      datagram = msg;
    } else {
      if (!this.contacted.has(from)) return this.options.onDrop?.(`datagram from ${from}, which was never sent to`);
      datagram = encodeUdpDatagram({ host: from, port: rinfo.port, data: msg });
    }
    if (!this.options.canSend(datagram.length)) return this.options.onDrop?.('datagram too large for a message, or WebSocket buffer full');
    this.touch();
    this.host.sendData(this.id, datagram);
  }

  onCredit(): void {}
  onEnd(): void {}

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
    this.udp?.close();
    this.control?.destroy();
    this.host.removed(this.id);
  }
}
