/**
 * What a stream's client sent while the target's socket still held bytes (its last write not yet out), written in
 * one go once the socket has taken everything before them. Small messages are copied, packed into blocks; large ones
 * (`HOLD_MIN_BYTES` and more) are kept as they came.
 *
 * Without packing each data message became a write of its own, queued in the socket: a client sending 1-byte
 * messages to a target that stops reading made the bridge hold a write request (about 250 bytes of heap) per byte of
 * its window, 250 MiB for a 1 MiB window, and a small message kept the whole socket read it arrived in (ws hands out
 * views) alive. A large message is not worth a copy: it is an array slot here (the queue is written as one corked
 * `writev`, not a write request per chunk), and the socket read it may be a view of (at most 64 KiB: Node sizes each
 * read's buffer to what it read, and ws joins a message that spans reads into a buffer of its own) is at most twice
 * its size. So the bridge holds at most twice the window's bytes, plus one block, whatever the messages' sizes.
 */
const BLOCK = 64 * 1024;
/** Messages at least this large are queued as they are, not copied (see above: they hold at most twice their size). */
export const HOLD_MIN_BYTES = 32 * 1024;

export class UploadQueue {
  private chunks: Uint8Array[] = [];
  /** The block being filled with small messages (the last chunk), if any. */
  private open: Buffer | undefined;
  /** Bytes used in `open`. */
  private used = 0;
  /** Bytes queued. */
  length = 0;

  /** Queues `data`: copied unless it is `HOLD_MIN_BYTES` or more (then the caller must not change it afterwards). */
  push(data: Uint8Array): void {
    this.length += data.length;
    if (data.length >= HOLD_MIN_BYTES) {
      this.seal();
      this.chunks.push(data);
      return;
    }
    for (let at = 0; at < data.length; ) {
      if (this.open === undefined || this.used === this.open.length) {
        this.seal();
        this.open = Buffer.allocUnsafe(BLOCK);
        this.chunks.push(this.open);
      }
      const n = Math.min(this.open.length - this.used, data.length - at);
      this.open.set(data.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
    }
  }

  /** Takes everything queued, as chunks in order. */
  take(): Uint8Array[] {
    this.seal();
    const chunks = this.chunks;
    this.chunks = [];
    this.length = 0;
    return chunks;
  }

  /** Ends the open block at what it holds: what comes next goes after it. */
  private seal(): void {
    if (this.open === undefined) return;
    this.chunks[this.chunks.length - 1] = this.open.subarray(0, this.used);
    this.open = undefined;
    this.used = 0;
  }
}
