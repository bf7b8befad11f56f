/** Resolving names and opening TCP connections with a deadline, failures mapped to TargetError. */
import { lookup } from 'node:dns/promises';
import { isIP, Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { stripBrackets } from '../../shared/socks/address.ts';
import { TargetError, TargetErrorCode, targetErrorFrom } from './target-error.ts';

/** Resolves a host to its addresses in the resolver's order; an IP literal resolves to itself. */
export async function resolveHost(host: string, signal?: AbortSignal): Promise<string[]> {
  const bare = stripBrackets(host);
  if (isIP(bare)) return [bare];
  try {
    const results = await raceAbort(lookup(bare, { all: true, verbatim: true }), signal);
    return results.map((r) => r.address);
  } catch (err) {
    throw targetErrorFrom(err, `cannot resolve ${host}`);
  }
}

/**
 * TCP keepalive on every socket the bridge and the SOCKS server hold: after this long without traffic the kernel
 * probes the peer. Node (libuv) also sets TCP_KEEPINTVL=1 s and TCP_KEEPCNT=10 (checked with strace on Node 20), so
 * a peer whose host is gone or unreachable is given up about 25 s after the last traffic, with ETIMEDOUT. It cannot
 * see a live host whose process hangs (its kernel answers the probes): the idle timeouts catch that.
 */
export const KEEPALIVE_IDLE_MS = 15_000;

/**
 * Keepalive (see KEEPALIVE_IDLE_MS) and Nagle off, as options of net.Socket and net.createServer: Node applies them
 * on connect and on accept, without a JavaScript call per socket.
 */
export const TCP_TUNING = { noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_IDLE_MS } as const;

/**
 * Connects to each address in turn until one answers. The socket comes back connected, half-open capable (a FIN
 * from the target does not end our side), with keepalive on and Nagle off. `onread`: net.Socket's option of that name
 * (reads into the caller's buffers instead of 'data' events; see DirectReads in relay.ts). `stream`: net.Socket's
 * stream options (relay.ts RELAY_SOCKET_OPTIONS).
 */
export async function connectTcp(addresses: readonly string[], port: number, signal?: AbortSignal, onread?: OnReadOpts, stream?: { highWaterMark?: number }): Promise<Socket> {
  // Built only when it is needed: an Error's stack trace costs more than the rest of a loopback connect.
  let last: TargetError | undefined;
  for (const address of addresses) {
    try {
      return await connectOne(address, port, signal, onread, stream);
    } catch (err) {
      last = targetErrorFrom(err, `connect to ${formatHostPort(address, port)}`);
      if (last.code === TargetErrorCode.TIMEOUT) break;
    }
  }
  throw last ?? new TargetError(TargetErrorCode.HOST_UNREACHABLE, 'no address to connect to');
}

function connectOne(host: string, port: number, signal: AbortSignal | undefined, onread: OnReadOpts | undefined, stream: { highWaterMark?: number } | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // `onread`, `noDelay` and `keepAlive` are constructor options of net.Socket (Node's typings list them under
    // connect()).
    const options = { allowHalfOpen: true, ...TCP_TUNING, ...stream, ...(onread ? { onread } : {}) };
    const socket = new Socket(options as SocketConstructorOpts);
    const onAbort = () => {
      socket.destroy();
      reject(new TargetError(TargetErrorCode.TIMEOUT, `connect to ${formatHostPort(host, port)} timed out`, 'ETIMEDOUT'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const onError = (err: Error) => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.connect({ host, port }, () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Rejects with a timeout TargetError when the signal fires first. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TargetError(TargetErrorCode.TIMEOUT, 'timed out', 'ETIMEDOUT'));
    if (signal.aborted) {
      // The lookup runs on regardless: its failure must not become an unhandled rejection (it ended the process).
      promise.catch(() => {});
      return onAbort();
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "::ffff:127.0.0.1" as "127.0.0.1"; other addresses unchanged. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
