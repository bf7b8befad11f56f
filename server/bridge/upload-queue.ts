/**
 * What a stream's client sent while the target's socket still held bytes (its last write not yet out): kept as
 * copies packed into blocks, and written in one go once the socket has taken everything before them.
 *
 * Without it each data message became a write of its own, queued in the socket: a client sending 1-byte messages to
 * a target that stops reading made the bridge hold a write request (about 250 bytes of heap) per byte of its window,
 * 250 MiB for a 1 MiB window, and a small message kept the whole socket read it arrived in (ws hands out views) alive.
 * Packed, the bridge holds the window's bytes plus at most one block.
 */
const BLOCK = 64 * 1024;

export class UploadQueue {
  private blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private used = 0;
  /** Bytes queued. */
  length = 0;

  /** Copies `data` in. */
  push(data: Uint8Array): void {
    for (let at = 0; at < data.length; ) {
      let last = this.blocks.at(-1);
      if (last === undefined || this.used === last.length) {
        last = Buffer.allocUnsafe(Math.max(BLOCK, Math.min(data.length - at, 4 * BLOCK)));
        this.blocks.push(last);
        this.used = 0;
      }
      const n = Math.min(last.length - this.used, data.length - at);
      last.set(data.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
    }
    this.length += data.length;
  }

  /** Takes everything queued, as chunks in order. */
  take(): Buffer[] {
    const blocks = this.blocks;
    if (blocks.length > 0) blocks[blocks.length - 1] = blocks[blocks.length - 1]!.subarray(0, this.used);
    this.blocks = [];
    this.used = 0;
    this.length = 0;
    return blocks;
  }
}
