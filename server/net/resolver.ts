/**
 * The resolver the bridge uses for names: the system's (getaddrinfo, /etc/hosts included) by default, or the DNS
 * servers named in the config (`dns.servers`, e.g. a filtering resolver), asked for A and AAAA records.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { resolveHost } from './dial.ts';
import { TargetError, TargetErrorCode } from './target-error.ts';

/** Resolves a canonical host to its addresses; an IP literal resolves to itself. */
export type Resolve = (host: string, signal?: AbortSignal) => Promise<string[]>;

/** `servers`: "127.0.0.1:5353", "[::1]:53", "9.9.9.9". Without servers, the system resolver. */
export function makeResolver(servers: readonly string[] | undefined): Resolve {
  if (!servers || servers.length === 0) return resolveHost;
  return async (host, signal) => {
    if (isIP(host)) return [host];
    // A resolver per lookup: cancel() cancels every query of a resolver, and each lookup has its own deadline.
    const resolver = new Resolver({ tries: 2, timeout: 2000 });
    resolver.setServers([...servers]);
    const onAbort = () => resolver.cancel();
    if (signal?.aborted) throw new TargetError(TargetErrorCode.TIMEOUT, `resolving ${host} timed out`, 'ETIMEDOUT');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
      if (signal?.aborted) throw new TargetError(TargetErrorCode.TIMEOUT, `resolving ${host} timed out`, 'ETIMEDOUT');
      if (addresses.length === 0) {
        const why = v4.status === 'rejected' ? (v4.reason as Error).message : 'no A or AAAA record';
        throw new TargetError(TargetErrorCode.NOT_FOUND, `cannot resolve ${host}: ${why}`, 'ENOTFOUND');
      }
      return addresses;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };
}
