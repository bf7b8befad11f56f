/**
 * The UDP relay behind one UDP ASSOCIATE (RFC 1928 §7). Two sockets keep the sides apart: the client side, bound
 * on the address the client reached us at, takes datagrams only from the client's IP (and port, once known) and
 * sends them on through the remote side; the remote side relays back datagrams from addresses the client has
 * sent to, each prefixed with the sender's address. Fragments (FRAG != 0) and malformed datagrams are dropped.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../shared/socks/udp.ts';
import { unmapIPv4 } from '../net/dial.ts';
import type { Resolve } from '../net/resolver.ts';
import { evaluateRules, type Rule } from './rules.ts';
import { canonicalTarget } from '../../shared/net/canonical-target.ts';

export interface UdpAssociationOptions {
  /** The server's (bounded) resolver for datagram destinations. */
  resolve: Resolve;
  /** The IP of the TCP control connection's client: the only source accepted. */
  clientIp: string;
  /** The client's UDP port if it named one in the request; otherwise learned from its first datagram. */
  clientPort: number | undefined;
  /** Local address to bind the client side on. */
  bindAddress: string;
  rules: readonly Rule[] | undefined;
  user: string | undefined;
  maxDatagramBytes: number;
  /** Called for every dropped datagram with the reason (for logs and tests). */
  onDrop?: (reason: string) => void;
  /** Called on any traffic, so the owner can run an idle timer. */
  onActivity?: () => void;
}

export class UdpAssociation {
  private clientSide: UdpSocket | undefined;
  private readonly remoteSides = new Map<4 | 6, UdpSocket>();
  private clientPort: number | undefined;
  /** Addresses the client has sent to: replies from anywhere else are not relayed. */
  private readonly contacted = new Set<string>();
  private closed = false;

  constructor(private readonly options: UdpAssociationOptions) {
    this.clientPort = options.clientPort;
  }

  /** Binds the client side and returns the address to put in the reply. */
  async open(): Promise<{ address: string; port: number }> {
    const family = isIP(this.options.bindAddress) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family });
    this.clientSide = socket;
    socket.on('message', (msg, rinfo) => {
      this.fromClient(msg, rinfo).catch((err: unknown) => this.drop(`datagram from the client: ${(err as Error).message}`));
    });
    socket.on('error', () => this.close());
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, this.options.bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const { address, port } = socket.address();
    return { address, port };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clientSide?.close();
    for (const s of this.remoteSides.values()) s.close();
    this.remoteSides.clear();
  }

  private drop(reason: string): void {
    this.options.onDrop?.(reason);
  }

  private async fromClient(msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    if (unmapIPv4(rinfo.address) !== this.options.clientIp) return this.drop(`datagram from stranger ${rinfo.address}`);
    if (this.clientPort !== undefined && rinfo.port !== this.clientPort) {
      return this.drop(`datagram from the client's address but port ${rinfo.port}`);
    }
    this.clientPort ??= rinfo.port;
    this.options.onActivity?.();
    const decoded = decodeUdpDatagram(msg);
    if (decoded.status !== 'done') return this.drop('malformed datagram header');
    const d = decoded.message;
    if (d.frag !== 0) return this.drop(`fragment ${d.frag} (fragmentation is not supported)`);
    if (d.port === 0) return this.drop('datagram to port 0');
    if (d.data.length > this.options.maxDatagramBytes) return this.drop(`datagram of ${d.data.length} bytes`);
    const c = canonicalTarget(d.host);
    if (!c.ok) return this.drop(c.message);
    let addresses: string[];
    try {
      addresses = await this.options.resolve(c.target.host);
    } catch {
      return this.drop(`cannot resolve ${c.target.host}`);
    }
    const name = c.target.kind === 'domain' ? c.target.host : undefined;
    const address = addresses.find(
      (a) =>
        evaluateRules(this.options.rules, {
          client: this.options.clientIp,
          user: this.options.user,
          command: 'udp',
          name,
          address: a,
          port: d.port,
        }).allow,
    );
    if (address === undefined) return this.drop(`destination ${c.target.host}:${d.port} denied by rules`);
    if (this.closed) return;
    const remote = this.remoteSide(isIP(address) === 6 ? 6 : 4);
    this.contacted.add(unmapIPv4(address));
    remote.send(d.data, d.port, address);
  }

  /** The socket that talks to targets of one family; it binds an ephemeral port on its first send. */
  private remoteSide(family: 4 | 6): UdpSocket {
    const existing = this.remoteSides.get(family);
    if (existing) return existing;
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    this.remoteSides.set(family, socket);
    socket.on('message', (msg, rinfo) => this.fromRemote(msg, rinfo));
    socket.on('error', () => this.close());
    return socket;
  }

  private fromRemote(msg: Buffer, rinfo: RemoteInfo): void {
    const from = unmapIPv4(rinfo.address);
    if (!this.contacted.has(from)) return this.drop(`reply from ${from}, which the client never sent to`);
    if (this.clientPort === undefined || this.closed || !this.clientSide) return;
    this.options.onActivity?.();
    const framed = encodeUdpDatagram({ host: from, port: rinfo.port, data: msg });
    this.clientSide.send(framed, this.clientPort, this.options.clientIp);
  }
}
