/**
 * The bytes a session handed to its WebSocket whose write has not completed, against limits.maxBufferedBytes: over
 * the bound the session is congested (it stops reading from its targets) until the count drains to half of it.
 * What congestion does (pausing, the overload timer) is the session's: the hooks below.
 */
export interface OutgoingBudgetHooks {
  /** The count went over the bound. */
  congest(): void;
  /** Bytes were written while congested, before `decongest` is considered (the overload clock restarts). */
  progress(): void;
  /** The count is down to half the bound; `congested` is already false. */
  decongest(): void;
}

/**
 * What one write handed to the WebSocket's socket costs beyond its bytes (the write request, the Buffer objects, the
 * callback: about 500 bytes of heap measured), counted with them: without it a target that trickles 1-byte reads to a
 * client that does not read made the bridge hold a message per byte, about 1 KiB of heap each, a thousand times
 * maxBufferedBytes, before the bound was reached.
 */
export const WRITE_OVERHEAD_BYTES = 512;

export class OutgoingBudget {
  /** Bytes handed to the WebSocket and not yet written. */
  bytes = 0;
  congested = false;

  constructor(
    /** limits.maxBufferedBytes. */
    readonly bound: number,
    private readonly hooks: OutgoingBudgetHooks,
  ) {}

  /** `bytes` more were handed to the WebSocket. */
  queued(bytes: number): void {
    this.bytes += bytes;
    if (!this.congested && this.bytes > this.bound) {
      this.congested = true;
      this.hooks.congest();
    }
  }

  /** The WebSocket's write callback for `bytes` ran. */
  written(bytes: number): void {
    this.bytes -= bytes;
    if (!this.congested) return;
    this.hooks.progress();
    if (this.bytes <= this.bound / 2) {
      this.congested = false;
      this.hooks.decongest();
    }
  }
}
