/**
 * Opens a TCP stream to a target, directly or through a chain of SOCKS hops: connect to the first hop, then have
 * each hop CONNECT to the next one, and the last to the target (the way gost builds a chain). Every step is
 * reported as a transcript entry. Failures are WsocksErrors naming the hop.
 */
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { ClientHandshake, type ClientStep } from '../../shared/socks/client-handshake.ts';
import { Command } from '../../shared/socks/constants.ts';
import { toHex } from '../../shared/socks/address.ts';
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { Hop, TranscriptEntry } from '../../shared/protocol/messages.ts';
import { connectTcp, formatHostPort, resolveHost } from '../net/dial.ts';
import { deadline } from '../net/deadline.ts';
import { TargetError, TargetErrorCode } from '../net/target-error.ts';
import type { TargetPolicy } from './policy.ts';

export interface RouteHop extends Hop {
  /** Credentials from the bridge's config are masked in transcripts; the client's own are shown. */
  secret: boolean;
}

export interface DialRouteOptions {
  host: string;
  port: number;
  hops: readonly RouteHop[];
  /** Whether the first hop's address is checked by policy (yes for chains the client described). */
  checkFirstHop: boolean;
  policy: TargetPolicy;
  /** Connect plus handshake, for each hop and for a direct target. */
  timeoutMs: number;
  /** Aborts everything (the stream was closed by the client). */
  signal: AbortSignal;
  onEntry?: ((entry: TranscriptEntry) => void) | undefined;
  /**
   * What the last hop is asked for. CONNECT reaches host:port. BIND makes the last hop listen (host:port is the
   * peer expected, 0.0.0.0:0 for any) and calls `onBound` with its first reply; the result names the peer. UDP
   * ASSOCIATE (SOCKS5) returns the relay's address; the TCP socket is the association's control connection.
   */
  command?: 'connect' | 'bind' | 'udp';
  onBound?: (address: { host: string; port: number }) => void;
  /** How long BIND waits for the peer after the first reply. */
  bindTimeoutMs?: number;
}

export interface DialedRoute {
  socket: Socket;
  remoteAddress: string;
  remotePort: number;
  /** Bytes that arrived with the last reply; they belong to the target's stream. */
  rest: Uint8Array;
}

export async function dialRoute(o: DialRouteOptions): Promise<DialedRoute> {
  const started = performance.now();
  const local = (kind: string, note: string) =>
    o.onEntry?.({ hop: 0, direction: 'local', kind, hex: '', fields: [], at: performance.now() - started, note });

  const command = o.command ?? 'connect';
  if (command !== 'connect' && o.hops.length === 0) {
    // Direct UDP is the UDP stream's own business (server/bridge/udp-stream.ts); it never comes here.
    throw new WsocksError(WsocksErrorCode.ROUTE_REQUIRED, 'BIND needs a route or via: the bridge itself does not listen for clients');
  }
  if (command === 'udp' && o.hops.at(-1)!.type !== 'socks5') {
    throw new WsocksError(WsocksErrorCode.ROUTE_REQUIRED, 'UDP ASSOCIATE needs a SOCKS5 proxy as the last hop');
  }

  if (o.hops.length === 0) {
    const addresses = await withDeadline(o, undefined, (signal) => allowedAddresses(o, o.host, o.port, signal, local));
    const socket = await withDeadline(o, undefined, (signal) => connectTcp(addresses, o.port, signal));
    local('connect', `connected to ${formatHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0)}`);
    return { socket, remoteAddress: socket.remoteAddress ?? o.host, remotePort: socket.remotePort ?? o.port, rest: new Uint8Array(0) };
  }

  if (command === 'connect') {
    const verdict = o.policy.checkThroughChain(o.host, o.port);
    local('policy', `target ${formatHostPort(o.host, o.port)}: ${verdict.reason}`);
    if (!verdict.allow) throw new WsocksError(WsocksErrorCode.POLICY_DENIED, `${formatHostPort(o.host, o.port)}: ${verdict.reason}`);
  }

  const first = o.hops[0]!;
  const socket = await withDeadline(o, 1, async (signal) => {
    const addresses = o.checkFirstHop
      ? await allowedAddresses(o, first.host, first.port, signal, local)
      : await resolveHost(first.host, signal);
    return connectTcp(addresses, first.port, signal);
  });
  local('connect', `connected to hop 1, ${first.type} proxy at ${formatHostPort(socket.remoteAddress ?? '', first.port)}`);
  try {
    let result: HandshakeResult = { rest: new Uint8Array(0), bound: { host: o.host, port: o.port } };
    for (let i = 0; i < o.hops.length; i++) {
      const hop = o.hops[i]!;
      const last = i === o.hops.length - 1;
      const next = o.hops[i + 1] ?? { host: o.host, port: o.port };
      const host = await withDeadline(o, i + 1, (signal) => nameForHop(hop, next.host, signal, i + 1, local));
      const code = !last || command === 'connect' ? Command.CONNECT : command === 'bind' ? Command.BIND : Command.UDP_ASSOCIATE;
      const options = { type: hop.type, host, port: next.port, username: hop.username, password: hop.password, maskPassword: hop.secret, command: code };
      const timeout = code === Command.BIND ? o.timeoutMs + (o.bindTimeoutMs ?? 60_000) : o.timeoutMs;
      result = await withDeadline({ ...o, timeoutMs: timeout }, i + 1, (signal) =>
        handshake(socket, i + 1, options, signal, (e) => o.onEntry?.({ ...e, at: performance.now() - started }), (b) => {
          local('bound', `hop ${i + 1} listens for the peer at ${formatHostPort(b.host, b.port)}`);
          o.onBound?.(b);
        }),
      );
    }
    if (command === 'connect') return { socket, remoteAddress: o.host, remotePort: o.port, rest: result.rest };
    let { host, port } = result.bound;
    // A relay or listener at 0.0.0.0 / :: means "the address you reached me at".
    if (command === 'udp' && (host === '0.0.0.0' || host === '::')) host = socket.remoteAddress ?? o.hops.at(-1)!.host;
    return { socket, remoteAddress: host, remotePort: port, rest: result.rest };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * The host a hop is asked to CONNECT to. Plain SOCKS4 carries only IPv4, so the bridge resolves the name itself;
 * SOCKS4a and SOCKS5 pass the name on unless the hop says `resolve: "local"`.
 */
async function nameForHop(
  hopConfig: RouteHop,
  host: string,
  signal: AbortSignal,
  hop: number,
  local: (kind: string, note: string) => void,
): Promise<string> {
  const socks4 = hopConfig.type === 'socks4';
  if (isIP(host) !== 0 || (!socks4 && hopConfig.resolve !== 'local')) {
    if (isIP(host) === 0) local('resolve', `${host} is passed to hop ${hop}, which resolves it`);
    return host;
  }
  const addresses = await resolveHost(host, signal);
  const picked = socks4 ? addresses.find((a) => isIP(a) === 4) : addresses[0];
  if (!picked) throw new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} is SOCKS4, which needs IPv4, and ${host} has no IPv4 address`, { hop });
  local('resolve', `${host} resolved to ${picked} by the bridge for hop ${hop}${socks4 ? ' (SOCKS4 carries addresses only)' : ''}`);
  return picked;
}

async function allowedAddresses(
  o: DialRouteOptions,
  host: string,
  port: number,
  signal: AbortSignal,
  local: (kind: string, note: string) => void,
): Promise<string[]> {
  const addresses = await resolveHost(host, signal);
  if (isIP(host) === 0) local('resolve', `${host} resolved to ${addresses.join(', ')}`);
  const name = isIP(host) === 0 ? host : undefined;
  const verdicts = addresses.map((a) => ({ a, v: o.policy.checkAddress(a, port, name) }));
  for (const { a, v } of verdicts) local('policy', `${formatHostPort(a, port)}: ${v.allow ? 'allowed' : 'denied'}, ${v.reason}`);
  const allowed = verdicts.filter((x) => x.v.allow).map((x) => x.a);
  if (allowed.length === 0) {
    throw new WsocksError(WsocksErrorCode.POLICY_DENIED, `${formatHostPort(host, port)}: ${verdicts[0]?.v.reason ?? 'no address'}`);
  }
  return allowed;
}

/** Runs `fn` with a signal that fires on the per-step deadline or when the stream is closed; maps failures. */
async function withDeadline<T>(o: DialRouteOptions, hop: number | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, done } = deadline(o.timeoutMs, o.signal);
  try {
    return await fn(signal);
  } catch (err) {
    throw toWsocksError(err, hop, o.signal.aborted);
  } finally {
    done();
  }
}

function toWsocksError(err: unknown, hop: number | undefined, closedByClient: boolean): WsocksError {
  if (err instanceof WsocksError) return err;
  const where = hop === undefined ? 'target' : `hop ${hop}`;
  if (closedByClient) return new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'stream closed while connecting');
  if (err instanceof TargetError) {
    if (err.code === TargetErrorCode.TIMEOUT) {
      return new WsocksError(WsocksErrorCode.TIMEOUT, `${where}: ${err.message}`, { hop, replyCode: err.replyCode });
    }
    return new WsocksError(WsocksErrorCode.CONNECT_FAILED, `${where}: ${err.message}`, { hop, replyCode: err.replyCode });
  }
  return new WsocksError(WsocksErrorCode.CONNECT_FAILED, `${where}: ${(err as Error).message}`, { hop });
}

interface HandshakeResult {
  rest: Uint8Array;
  /** BND.ADDR/BND.PORT of the final reply. */
  bound: { host: string; port: number };
}

/** Runs one hop's client handshake over the socket; resolves with the final reply's address and any bytes past it. */
function handshake(
  socket: Socket,
  hop: number,
  options: ConstructorParameters<typeof ClientHandshake>[0],
  signal: AbortSignal,
  onEntry: (e: Omit<TranscriptEntry, 'at'> & { at: number }) => void,
  onBound: (address: { host: string; port: number }) => void,
): Promise<HandshakeResult> {
  const hs = new ClientHandshake(options);
  return new Promise<HandshakeResult>((resolve, reject) => {
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      socket.pause();
    };
    const handle = (steps: ClientStep[]) => {
      for (const step of steps) {
        if (step.type === 'write' || step.type === 'read') {
          const m = step.message;
          onEntry({ hop, direction: m.direction, kind: m.kind, hex: toHex(m.shown), fields: m.fields, at: 0 });
          if (step.type === 'write') socket.write(step.bytes);
        } else if (step.type === 'bound') {
          onBound(step.bound);
        } else if (step.type === 'done') {
          cleanup();
          resolve({ rest: hs.takeRest(), bound: step.bound });
        } else {
          cleanup();
          reject(
            new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} (${options.type} proxy): ${step.error.message}`, {
              hop,
              replyCode: step.error.replyCode,
            }),
          );
        }
      }
    };
    const onData = (d: Buffer) => {
      try {
        handle(hs.receive(d));
      } catch (err) {
        // Nothing a proxy sends may throw past this handler: the stream fails, the bridge carries on.
        cleanup();
        reject(new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} (${options.type} proxy): ${(err as Error).message}`, { hop }));
      }
    };
    const onClose = () => handle(hs.closed());
    const onError = () => {};
    const onAbort = () => {
      cleanup();
      reject(new TargetError(TargetErrorCode.TIMEOUT, `no SOCKS reply within the handshake timeout`));
    };
    socket.on('data', onData);
    // The socket is half-open capable: a proxy that hangs up mid-handshake shows as 'end', not 'close'.
    socket.once('end', onClose);
    socket.once('close', onClose);
    socket.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.resume();
    handle(hs.start());
  });
}
