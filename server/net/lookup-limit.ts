/**
 * A bound on DNS lookups in flight. A lookup outlives the stream that asked for it (getaddrinfo cannot be cancelled;
 * it holds one of libuv's 4 threads until the system resolver gives up), so a client that opens and closes streams
 * to random names could queue lookups without end and stall every lookup (and file and crypto work) of the bridge.
 * The bound counts lookups until they really finish, not until their stream stops waiting.
 */
import { isIP } from 'node:net';
import { stripBrackets } from '../../shared/socks/address.ts';
import { raceAbort } from './dial.ts';
import type { Resolve } from './resolver.ts';

export interface LimitedResolve extends Resolve {
  /** Lookups started and not yet finished. */
  pending(): number;
}

/** Wraps a resolver so that at most `max` lookups run at once; one more fails with `full()` (the caller's coded error). */
export function limitLookups(resolve: Resolve, max: number, full: (max: number) => Error): LimitedResolve {
  let pending = 0;
  const limited = (host: string, signal?: AbortSignal): Promise<string[]> => {
    if (isIP(stripBrackets(host)) !== 0) return resolve(host, signal);
    if (pending >= max) {
      return Promise.reject(full(max));
    }
    pending++;
    // No signal for the lookup itself: it is counted for as long as it really runs.
    const lookup = resolve(host).finally(() => pending--);
    return raceAbort(lookup, signal);
  };
  return Object.assign(limited, { pending: () => pending });
}
