/**
 * The budget a session's streams share for growing their windows past the initial one: the client library's receive
 * windows (ConnectOptions.window / maxWindow) and the bridge's upload windows (limits.window / maxWindow). A stream
 * that keeps up doubles its window at a credit grant, up to `max`; growth stops where the session's windows together
 * reach `max`, so that with many streams at once each keeps the initial window and what a session's streams may have
 * in flight is at most `max(streams · initial, max)` (docs/bridge.md, worst-case memory).
 */
export class WindowBudget {
  /** Bytes of growth the session's streams hold now. */
  private grown = 0;

  constructor(
    /** Where every stream's window starts. */
    readonly initial: number,
    /** The most one window grows to, and the session's budget. */
    readonly max: number,
    /** How many streams the session has open now (each holds `initial`). */
    private readonly streams: () => number,
  ) {}

  /** `window` doubled (at most to `max`) when the budget has the growth; else `window` as it is. */
  grow(window: number): number {
    const more = Math.min(window, this.max - window);
    if (more <= 0 || this.streams() * this.initial + this.grown + more > this.max) return window;
    this.grown += more;
    return window + more;
  }

  /** A stream ended with `window`: its growth goes back to the budget. */
  release(window: number): void {
    this.grown -= window - this.initial;
  }
}
