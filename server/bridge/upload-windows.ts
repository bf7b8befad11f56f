/**
 * The budget a session's streams share for growing their upload windows (client -> target) past `limits.window`, up
 * to `limits.maxWindow`: a stream whose target keeps up doubles its window at a credit grant, so that a fast stream
 * is not held to one window per round trip; growth stops where the session's windows together reach `maxWindow`
 * (with many streams at once, each keeps the initial window). What a session's streams may have in flight from the
 * client is then at most `max(streams · window, maxWindow)`: docs/bridge.md, worst-case memory.
 */
export class UploadWindows {
  /** Bytes of growth the session's streams hold now. */
  private grown = 0;

  constructor(
    /** limits.window: where every stream starts. */
    readonly initial: number,
    /** limits.maxWindow: the most one stream grows to, and the session's budget. */
    readonly max: number,
    /** How many streams the session has open now (each holds `initial`). */
    private readonly streams: () => number,
  ) {}

  /** Takes `bytes` of growth if the budget has them. */
  grow(bytes: number): boolean {
    if (this.streams() * this.initial + this.grown + bytes > this.max) return false;
    this.grown += bytes;
    return true;
  }

  /** A stream ended: its growth goes back to the budget. */
  release(bytes: number): void {
    this.grown -= bytes;
  }
}
