/** Deadlines as abort signals, for connects, handshakes and waits that must also stop when their owner goes away. */

export interface Deadline {
  /** Aborts after the deadline's `ms`, when `parent` aborts, or on `abort()`. */
  signal: AbortSignal;
  /** Ends the wait early (its owner went away); does nothing once `done()` was called. */
  abort: () => void;
  /** The wait is over: stops the timer and unlinks the parent. */
  done: () => void;
}

/**
 * A signal that aborts after `ms`, as soon as `parent` aborts, or when its owner calls `abort()`. An owner that has no
 * signal of its own (a SOCKS connection: one AbortController per wait, not a second one per connection to link to)
 * keeps the deadline and calls `abort()` when it goes away.
 */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController();
  let over = false;
  const abort = () => {
    if (!over) ac.abort();
  };
  const timer = setTimeout(abort, ms);
  if (parent?.aborted) abort();
  else parent?.addEventListener('abort', abort, { once: true });
  return {
    signal: ac.signal,
    abort,
    done: () => {
      over = true;
      clearTimeout(timer);
      parent?.removeEventListener('abort', abort);
    },
  };
}
