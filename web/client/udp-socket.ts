/**
 * A datagram stream in the shape of the Direct Sockets `UDPSocket`: `opened` resolves to a readable of received
 * datagrams and a writable that sends them, each `{ data, remoteAddress, remotePort }`. In connected mode (a target
 * was given) the address may be left out when writing. Datagrams are never merged or split; like UDP they may be
 * lost (a full readable drops new ones).
 */
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../shared/socks/udp.ts';
import type { BytesSource } from './socket.ts';
import { ClientStream, type SocketTransport, type StreamGuard } from './client-stream.ts';

export interface UdpMessage {
  data: Uint8Array;
  remoteAddress: string;
  remotePort: number;
}

export interface UdpMessageInit {
  data: BytesSource;
  remoteAddress?: string;
  remotePort?: number;
}

export interface UdpOpenInfo {
  readable: ReadableStream<UdpMessage>;
  writable: WritableStream<UdpMessageInit>;
  /** The connected target, in connected mode. */
  remoteAddress?: string;
  remotePort?: number;
  /** Where the datagrams leave from: the last hop's UDP relay, or the bridge itself. */
  relayAddress: string;
  relayPort: number;
}

/** Datagrams a readable holds before new ones are dropped. */
const QUEUE = 1024;

export class WsocksUdpSocket extends ClientStream<UdpOpenInfo> {
  /** Datagrams dropped because the readable was full. */
  dropped = 0;
  /** Datagrams this socket sent that the bridge did not send on (denied, not the target, bad host), so far. */
  refused = 0;
  /** Why the bridge last refused one: `code` ERR_POLICY_DENIED, ERR_BAD_TARGET, ... */
  lastRefusal: WsocksError | undefined;
  private readonly refusalListeners = new Set<(error: WsocksError) => void>();

  /** Listens for the bridge's refusals of datagrams sent on this socket; returns a function that stops listening. */
  onRefused(listener: (error: WsocksError) => void): () => void {
    this.refusalListeners.add(listener);
    return () => this.refusalListeners.delete(listener);
  }

  override handleDropped(error: WsocksError, count: number): void {
    this.refused = count;
    this.lastRefusal = error;
    for (const l of this.refusalListeners) l(error);
  }
  private readable: ReadableStreamDefaultController<UdpMessage> | undefined;

  constructor(
    id: number,
    transport: SocketTransport,
    private readonly target: { host: string; port: number } | null,
    private readonly maxDatagramBytes: number,
    guard: StreamGuard = {},
  ) {
    super(id, transport, guard);
  }

  handleOpened(relayAddress: string, relayPort: number): void {
    const readable = new ReadableStream<UdpMessage>(
      { start: (c) => void (this.readable = c), cancel: () => void this.close() },
      { highWaterMark: QUEUE },
    );
    const writable = new WritableStream<UdpMessageInit>({
      write: (m) => this.send(m),
      close: () => void this.close(),
      abort: () => void this.close(),
    });
    this.openedD.resolve({
      readable,
      writable,
      relayAddress,
      relayPort,
      ...(this.target ? { remoteAddress: this.target.host, remotePort: this.target.port } : {}),
    });
  }

  handleData(frame: Uint8Array): void {
    if (this.settled || !this.readable) return;
    const decoded = decodeUdpDatagram(frame);
    if (decoded.status !== 'done' || decoded.message.frag !== 0) return;
    if ((this.readable.desiredSize ?? 0) <= 0) {
      this.dropped++;
      return;
    }
    const d = decoded.message;
    this.readable.enqueue({ data: d.data.slice(), remoteAddress: d.host, remotePort: d.port });
  }

  private send(m: UdpMessageInit): void {
    if (this.settled) throw new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'the UDP stream is closed');
    const host = m.remoteAddress ?? this.target?.host;
    const port = m.remotePort ?? this.target?.port;
    if (host === undefined || port === undefined) throw new TypeError('an unconnected UDP socket needs remoteAddress and remotePort');
    let data: Uint8Array;
    if (m.data instanceof ArrayBuffer) data = new Uint8Array(m.data);
    else if (ArrayBuffer.isView(m.data)) data = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    else throw new TypeError('data must be an ArrayBuffer or an ArrayBufferView');
    if (data.length > this.maxDatagramBytes) {
      throw new WsocksError(WsocksErrorCode.DATAGRAM_TOO_LARGE, `datagram of ${data.length} bytes; the limit is ${this.maxDatagramBytes}`);
    }
    this.transport.sendData(this.id, encodeUdpDatagram({ host, port, data }));
  }

  protected settle(error: WsocksError | undefined): void {
    if (error) this.readable?.error(error);
    else {
      try {
        this.readable?.close();
      } catch {
        // already closed
      }
    }
  }
}
