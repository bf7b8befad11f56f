/**
 * Writes the bridge's binary data messages (docs/protocol.md: a 4-byte stream id, then the data) straight onto the
 * session's socket as RFC 6455 server frames, without ws's sender and without copying: the frame header and the id
 * go in one small buffer, the data chunks as they were read from the target, all in one `writev`.
 *
 * Batching: bytes a stream hands over during one turn of the event loop (the target's socket is read up to 32 times
 * a turn when it has plenty) become one message, up to the message limit; and the socket is corked for the turn, so
 * that every frame of the turn (and any control message sent meanwhile through ws) leaves in one system call.
 *
 * This is sound only because ws writes a message synchronously when it is sent (perMessageDeflate off, no Blobs):
 * its text messages and our frames reach the socket in the order they were sent. `flush()` before any ws send keeps
 * a stream's data ahead of its own later control messages (`end`, `close`).
 */
import type { Duplex } from 'node:stream';
import { FRAME_HEADER_BYTES } from '../../shared/protocol/frame.ts';
import type { ReadLease } from './read-lease.ts';
import { WRITE_OVERHEAD_BYTES } from './outgoing-budget.ts';

interface Batch {
  parts: Uint8Array[];
  bytes: number;
  /** The leases of the reads whose bytes are among `parts`: held until the message is written. */
  leases: ReadLease[];
}

export class FrameWriter {
  private readonly batches = new Map<number, Batch>();
  private corked = false;
  private readonly endTurn = () => {
    this.corked = false;
    this.flush();
    this.socket.uncork();
  };

  constructor(
    private readonly socket: Duplex,
    /** Largest data per message: the message limit less the stream id. */
    private readonly maxData: number,
    /** Called with a message's data bytes once the socket has written it, or failed to (or it was dropped). */
    private readonly onWritten: (bytes: number) => void,
    /** False once the WebSocket is closing: nothing may follow its close frame, queued data is dropped. */
    private readonly open: () => boolean,
    /** The cost of a message's writes beyond its bytes (WRITE_OVERHEAD_BYTES each), as it is written and once done. */
    private readonly overhead: { queued(bytes: number): void; written(bytes: number): void } = { queued() {}, written() {} },
  ) {}

  /** Queues stream bytes; they go out at the end of the turn, or at once when a message is full. */
  data(id: number, data: Uint8Array, lease?: ReadLease): void {
    this.cork();
    for (let at = 0; at < data.length; ) {
      let batch = this.batches.get(id);
      if (!batch) this.batches.set(id, (batch = { parts: [], bytes: 0, leases: [] }));
      const n = Math.min(this.maxData - batch.bytes, data.length - at);
      batch.parts.push(at === 0 && n === data.length ? data : data.subarray(at, at + n));
      if (lease) {
        lease.hold();
        batch.leases.push(lease);
      }
      batch.bytes += n;
      at += n;
      if (batch.bytes === this.maxData) {
        this.batches.delete(id);
        this.write(id, batch);
      }
    }
  }

  /** One message of its own (a datagram), after the stream's queued bytes. */
  message(id: number, data: Uint8Array): void {
    this.cork();
    this.flushStream(id);
    this.write(id, { parts: [data], bytes: data.length, leases: [] });
  }

  /** Writes every queued message now (before a control message, so that it cannot overtake them). */
  flush(): void {
    for (const [id, batch] of this.batches) this.write(id, batch);
    this.batches.clear();
  }

  /**
   * Holds the socket's writes until the end of the turn (control messages sent through ws meanwhile too): a burst of
   * messages (64 streams' `opened`) leaves in one system call.
   */
  hold(): void {
    this.cork();
  }

  /** Drops what is queued (the session is gone). */
  discard(): void {
    this.batches.clear();
  }

  private flushStream(id: number): void {
    const batch = this.batches.get(id);
    if (!batch) return;
    this.batches.delete(id);
    this.write(id, batch);
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(this.endTurn);
  }

  private write(id: number, { parts, bytes, leases }: Batch): void {
    const size = FRAME_HEADER_BYTES + bytes;
    const head = frameHeader(size);
    head.writeUInt32BE(id, head.length - FRAME_HEADER_BYTES);
    // The header and each part are writes of their own, each costing more than its bytes (outgoing-budget.ts).
    const overhead = WRITE_OVERHEAD_BYTES * (parts.length + 1);
    this.overhead.queued(overhead);
    const done = () => {
      this.onWritten(bytes);
      this.overhead.written(overhead);
      // The socket holds none of the parts any more (written, or dropped with an error).
      for (const lease of leases) lease.drop();
    };
    if (!this.open() || this.socket.destroyed || !this.socket.writable) return done();
    this.socket.write(head);
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.socket.write(parts[i]!);
    this.socket.write(parts[last]!, done);
  }
}

/** An unmasked, final binary frame header for `size` payload bytes, with 4 bytes of room at its end for the id. */
function frameHeader(size: number): Buffer {
  if (size < 126) {
    const h = Buffer.allocUnsafe(2 + FRAME_HEADER_BYTES);
    h[0] = 0x82;
    h[1] = size;
    return h;
  }
  if (size < 0x10000) {
    const h = Buffer.allocUnsafe(4 + FRAME_HEADER_BYTES);
    h[0] = 0x82;
    h[1] = 126;
    h.writeUInt16BE(size, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10 + FRAME_HEADER_BYTES);
  h[0] = 0x82;
  h[1] = 127;
  h.writeUInt32BE(0, 2);
  h.writeUInt32BE(size, 6);
  return h;
}
