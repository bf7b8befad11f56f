/**
 * A rate limit for notices that a peer can provoke at will (a `dropped` message per refused datagram, a log line per
 * stray datagram): at most `perSecond` go out in any one-second window. Those past it are not lost but coalesced:
 * when the window ends, one notice for the latest of them goes out, saying how many others it stands for. `close()`
 * clears the timer and forgets what is held.
 */
export class CoalescedNotices<T> {
  private windowStart = -Infinity;
  private sentInWindow = 0;
  private held: { item: T; count: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** `emit(item, folded)`: `folded` is how many notices held back since the last one this one stands for too. */
  constructor(
    private readonly perSecond: number,
    private readonly emit: (item: T, folded: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(item: T): void {
    if (this.closed) return;
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    // Once one is held, later ones queue behind it, so that notices never overtake each other.
    if (this.held === undefined && this.sentInWindow < this.perSecond) {
      this.sentInWindow++;
      this.emit(item, 0);
      return;
    }
    this.held = { item, count: (this.held?.count ?? 0) + 1 };
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.windowStart + 1000 - now));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const held = this.held;
    this.held = undefined;
    if (held === undefined) return;
    this.windowStart = this.now();
    this.sentInWindow = 1;
    this.emit(held.item, held.count - 1);
  }
}
