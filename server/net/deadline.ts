/** Deadlines as abort signals, for connects, handshakes and waits that must also stop when their owner goes away. */

/** A signal that aborts after `ms`, or as soon as `parent` aborts; `done()` stops the timer and unlinks the parent. */
export function deadline(ms: number, parent: AbortSignal): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const onParentAbort = () => ac.abort();
  if (parent.aborted) ac.abort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: ac.signal,
    done: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}
