/**
 * Writes the bridge's binary data messages (docs/protocol.md: a 4-byte stream id, then the data) straight onto the
 * session's socket as RFC 6455 server frames, without ws's sender and without copying: the frame header and the id
 * go in one small buffer, the data chunks as they were read from the target, all in one `writev`.
 *
 * Batching: bytes a stream hands over during one turn of the event loop (the target's socket is read up to 32 times
 * a turn when it has plenty) become one message, up to the message limit; and the socket is corked for the turn, so
 * that every frame of the turn (control messages and ws's own frames, pongs, included) leaves in one system call.
 *
 * Control messages (text) are written here too, packed: the turn's messages are encoded into one buffer of their exact
 * size and written once (before any frame queued after them), so that an answer costs its bytes, not a write request
 * and two Buffer objects of its own (about half a KiB of heap each, which the outgoing bound did not see: a client
 * that sends only bad messages and reads nothing made the bridge hold 7 times the bound).
 *
 * This is sound only because ws writes a message synchronously when it is sent (perMessageDeflate off, no Blobs):
 * its own frames (pongs, the close frame) and ours reach the socket in the order they were written. `flush()` before
 * a control message keeps a stream's data ahead of its own later control messages (`end`, `close`).
 */
import type { Duplex } from 'node:stream';
import { FRAME_HEADER_BYTES } from '../../shared/protocol/frame.ts';
import type { ReadLease } from './read-lease.ts';
import { WRITE_OVERHEAD_BYTES } from './outgoing-budget.ts';

/** Text messages wait while the turn lasts, up to this many bytes; then they are written at once. */
const MAX_PENDING_TEXT_BYTES = 64 * 1024;

interface Batch {
  parts: Uint8Array[];
  bytes: number;
  /** The leases of the reads whose bytes are among `parts`: held until the message is written. */
  leases: ReadLease[];
}

export class FrameWriter {
  private readonly batches = new Map<number, Batch>();
  /** Text messages queued this turn, in order, and their bytes (UTF-8). */
  private texts: string[] = [];
  private textBytes: number[] = [];
  private textTotal = 0;
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

  /**
   * A control message (`bytes`: its UTF-8 length), written with the turn's others, after every frame queued before it
   * (a stream's `end` or `close` never overtakes its bytes) and before every frame queued after it. `onWritten` gets
   * `bytes` once it is written.
   */
  text(payload: string, bytes: number): void {
    this.cork();
    this.flushBatches();
    this.texts.push(payload);
    this.textBytes.push(bytes);
    this.textTotal += bytes;
    if (this.textTotal >= MAX_PENDING_TEXT_BYTES) this.writeTexts();
  }

  /** Writes every queued message now (before ws writes a frame of its own: the close frame). */
  flush(): void {
    this.flushBatches();
    this.writeTexts();
  }

  private flushBatches(): void {
    for (const [id, batch] of this.batches) this.write(id, batch);
    this.batches.clear();
  }

  /** Drops what is queued (the session is gone). */
  discard(): void {
    this.batches.clear();
    this.texts = [];
    this.textBytes = [];
    this.textTotal = 0;
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

  /** The queued text messages as one buffer of their frames, in one write. */
  private writeTexts(): void {
    if (this.texts.length === 0) return;
    const { texts, textBytes: lengths, textTotal: bytes } = this;
    this.texts = [];
    this.textBytes = [];
    this.textTotal = 0;
    this.overhead.queued(WRITE_OVERHEAD_BYTES);
    const done = () => {
      this.onWritten(bytes);
      this.overhead.written(WRITE_OVERHEAD_BYTES);
    };
    if (!this.open() || this.socket.destroyed || !this.socket.writable) return done();
    let size = 0;
    for (const n of lengths) size += headerBytes(n) + n;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < texts.length; i++) {
      const n = lengths[i]!;
      at = writeHeader(out, at, 0x81, n);
      at += out.write(texts[i]!, at, n, 'utf8');
    }
    this.socket.write(out, done);
  }

  private write(id: number, { parts, bytes, leases }: Batch): void {
    // Text messages queued before this frame go first.
    this.writeTexts();
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

/** The length of an unmasked frame header for `size` payload bytes. */
function headerBytes(size: number): number {
  return size < 126 ? 2 : size < 0x10000 ? 4 : 10;
}

/** Writes an unmasked, final frame header (`first`: FIN and opcode) for `size` payload bytes at `at`; returns its end. */
function writeHeader(out: Buffer, at: number, first: number, size: number): number {
  out[at] = first;
  if (size < 126) {
    out[at + 1] = size;
    return at + 2;
  }
  if (size < 0x10000) {
    out[at + 1] = 126;
    out.writeUInt16BE(size, at + 2);
    return at + 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(0, at + 2);
  out.writeUInt32BE(size, at + 6);
  return at + 10;
}

/** An unmasked, final binary frame header for `size` payload bytes, with 4 bytes of room at its end for the id. */
function frameHeader(size: number): Buffer {
  const h = Buffer.allocUnsafe(headerBytes(size) + FRAME_HEADER_BYTES);
  writeHeader(h, 0, 0x82, size);
  return h;
}
