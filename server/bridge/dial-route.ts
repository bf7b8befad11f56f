/**
 * Opens a TCP stream to a target, directly or through a chain of SOCKS hops: connect to the first hop, then have
 * each hop CONNECT to the next one, and the last to the target (the way gost builds a chain). Every step is
 * reported as a transcript entry. Failures are WsocksErrors naming the hop.
 */
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { ClientHandshake, type ClientStep } from '../../shared/socks/client-handshake.ts';
import { Command } from '../../shared/socks/constants.ts';
import { requireCanonicalTarget, type CanonicalTarget } from '../../shared/net/canonical-target.ts';
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { Hop, TranscriptEntry } from '../../shared/protocol/messages.ts';
import { connectTcp, formatHostPort, resolveHost } from '../net/dial.ts';
import { DirectReads } from '../net/relay.ts';
import type { Resolve } from '../net/resolver.ts';
import { deadline } from '../net/deadline.ts';
import { TargetError, TargetErrorCode } from '../net/target-error.ts';
import type { TargetPolicy } from './policy.ts';
import type { RouteHopConfig } from './config.ts';
import { runGssapi } from './gssapi-hop.ts';
import type { Initiators } from '../gssapi/initiators.ts';

/**
 * A hop of a route. Passwords are masked in every transcript, the bridge config's and the client's own alike: the
 * bridge never sends a password back (a page that sent its own in `via` still has it and may show it locally).
 */
export type RouteHop = Hop & Partial<Pick<RouteHopConfig, 'auth' | 'service' | 'principal' | 'keytab' | 'ccache' | 'protection' | 'nec'>>;

export interface DialRouteOptions {
  host: string;
  port: number;
  hops: readonly RouteHop[];
  /** Whether the first hop's address is checked by policy (yes for chains the client described). */
  checkFirstHop: boolean;
  policy: TargetPolicy;
  /** The bridge's GSS-API credentials, for hops with `auth: "gssapi"`. */
  gssapi?: Initiators | undefined;
  /** The bridge's resolver (config `dns`); getaddrinfo when absent. */
  resolve?: Resolve | undefined;
  /** A configured route marked `names: "proxy"`: its last hop resolves names and is the policy boundary. */
  namesAtProxy?: boolean | undefined;
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
  /**
   * A CONNECT reads its target (or its first hop) through DirectReads (server/net/relay.ts): the result's `reads` then
   * delivers the bytes, not the socket's 'data' events. Only for a caller that attaches to it.
   */
  directReads?: boolean;
}

export interface DialedRoute {
  socket: Socket;
  remoteAddress: string;
  remotePort: number;
  /** Bytes that arrived with the last reply; they belong to the target's stream. */
  rest: Uint8Array;
  /** With `directReads`, for a direct CONNECT: where the target's bytes come from. */
  reads?: DirectReads;
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

  // Rules, transcripts and logs see only the canonical form (shared/net/canonical-target.ts).
  const target = requireCanonicalTarget(o.host);
  const targetHost = target.host;

  if (o.hops.length === 0) {
    // A literal is judged at once (no lookup, so no deadline to keep); a name is resolved first.
    const addresses =
      target.kind === 'domain'
        ? await withDeadline(o, undefined, (signal) => allowedAddresses(o, targetHost, o.port, signal, local))
        : allowedOf(judge(o, [targetHost], targetHost, o.port, local), targetHost, o.port);
    const reads = o.directReads && command === 'connect' ? new DirectReads() : undefined;
    const socket = await withDeadline(o, undefined, (signal) => connectTcp(addresses, o.port, signal, reads?.onread));
    local('connect', `connected to ${formatHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0)}`);
    return { socket, remoteAddress: socket.remoteAddress ?? targetHost, remotePort: socket.remotePort ?? o.port, rest: new Uint8Array(0), ...(reads ? { reads } : {}) };
  }

  // The first hop is judged (for client chains) before the target's name is looked up, and both before any connect.
  const first = o.hops[0]!;
  const firstAddresses = await withDeadline(o, 1, (signal) =>
    o.checkFirstHop ? allowedAddresses(o, requireCanonicalTarget(first.host).host, first.port, signal, local) : (o.resolve ?? resolveHost)(first.host, signal),
  );
  // What the last hop is asked for: the checked address, or the name once every address it has was checked.
  const lastHop = o.hops.at(-1)!;
  const lastHost = await withDeadline(o, undefined, (signal) =>
    command === 'connect' ? targetForRoute(o, target, o.port, lastHop, o.hops.length, signal, local) : nameForHop(o, lastHop, targetHost, signal, o.hops.length, local),
  );
  // A client chain's later hops are the previous proxy's targets: judged like the target (not trusted), before
  // anything is dialed. Configured routes' hops are the operator's and are not judged.
  const judgedHops: Array<string | undefined> = [];
  if (o.checkFirstHop) {
    for (let i = 1; i < o.hops.length; i++) {
      const hop = o.hops[i]!;
      judgedHops[i] = await withDeadline(o, i, (signal) => targetForRoute(o, requireCanonicalTarget(hop.host), hop.port, o.hops[i - 1]!, i, signal, local));
    }
  }
  // The first hop's socket carries the handshakes ('data' events), then, for a CONNECT, the target's bytes (`reads`).
  const reads = o.directReads && command === 'connect' ? new DirectReads() : undefined;
  const socket = await withDeadline(o, 1, (signal) => connectTcp(firstAddresses, first.port, signal, reads?.onread));
  reads?.pushInto(socket);
  local('connect', `connected to hop 1, ${first.type} proxy at ${formatHostPort(socket.remoteAddress ?? '', first.port)}`);
  // A GSS-API hop with integrity or confidentiality swaps the socket for a protected stream over it (RFC 1961 §5):
  // everything after its subnegotiation, later hops' handshakes included, goes through that.
  let channel: Socket = socket;
  try {
    let result: HandshakeResult = { rest: new Uint8Array(0), bound: { host: targetHost, port: o.port }, channel };
    for (let i = 0; i < o.hops.length; i++) {
      const hop = o.hops[i]!;
      const last = i === o.hops.length - 1;
      const next = o.hops[i + 1];
      const host = next ? (judgedHops[i + 1] ?? (await withDeadline(o, i + 1, (signal) => nameForHop(o, hop, next.host, signal, i + 1, local)))) : lastHost;
      const port = next ? next.port : o.port;
      const code = !last || command === 'connect' ? Command.CONNECT : command === 'bind' ? Command.BIND : Command.UDP_ASSOCIATE;
      const gssapi = hop.auth === 'gssapi';
      const options = { type: hop.type, host, port, username: hop.username, password: hop.password, maskPassword: true, command: code, gssapi };
      const timeout = code === Command.BIND ? o.timeoutMs + (o.bindTimeoutMs ?? 60_000) : o.timeoutMs;
      result = await withDeadline({ ...o, timeoutMs: timeout }, i + 1, (signal) =>
        handshake(channel, i + 1, options, gssapi ? { hop, udp: code === Command.UDP_ASSOCIATE, initiators: o.gssapi } : undefined, signal, (e) => o.onEntry?.({ ...e, at: performance.now() - started }), (b) => {
          local('bound', `hop ${i + 1} listens for the peer at ${formatHostPort(b.host, b.port)}`);
          o.onBound?.(b);
        }),
      );
      channel = result.channel;
    }
    if (command === 'connect') {
      // Through a GSS-API protected stream the bytes are not the socket's: the stream reads them ('data' events).
      return { socket: channel, remoteAddress: targetHost, remotePort: o.port, rest: result.rest, ...(reads && channel === socket ? { reads } : {}) };
    }
    let { host, port } = result.bound;
    // A relay or listener at 0.0.0.0 / :: means "the address you reached me at".
    if (command === 'udp' && (host === '0.0.0.0' || host === '::')) host = socket.remoteAddress ?? o.hops.at(-1)!.host;
    return { socket: channel, remoteAddress: host, remotePort: port, rest: result.rest };
  } catch (err) {
    channel.destroy();
    socket.destroy();
    throw err;
  }
}

/**
 * The host a hop is asked to CONNECT to. Plain SOCKS4 carries only IPv4, so the bridge resolves the name itself;
 * SOCKS4a and SOCKS5 pass the name on unless the hop says `resolve: "local"`.
 */
async function nameForHop(
  o: DialRouteOptions,
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
  const addresses = await (o.resolve ?? resolveHost)(host, signal);
  const picked = socks4 ? addresses.find((a) => isIP(a) === 4) : addresses[0];
  if (!picked) throw new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} is SOCKS4, which needs IPv4, and ${host} has no IPv4 address`, { hop });
  local('resolve', `${host} resolved to ${picked} by the bridge for hop ${hop}${socks4 ? ' (SOCKS4 carries addresses only)' : ''}`);
  return picked;
}

/** Resolves `host` (canonical) with the bridge's resolver and judges every address; returns the allowed ones. */
async function judgeAddresses(
  o: DialRouteOptions,
  host: string,
  port: number,
  signal: AbortSignal,
  local: (kind: string, note: string) => void,
): Promise<{ allowed: string[]; denied: { address: string; reason: string }[] }> {
  if (isIP(host) === 0) {
    // Deny entries by name or port decide without a DNS query.
    const byName = o.policy.checkNameOnly(host, port);
    if (!byName.allow) {
      local('policy', `${formatHostPort(host, port)}: denied, ${byName.reason}`);
      return { allowed: [], denied: [{ address: host, reason: byName.reason }] };
    }
  }
  const addresses = isIP(host) === 0 ? await (o.resolve ?? resolveHost)(host, signal) : [host];
  if (isIP(host) === 0) local('resolve', `${host} resolved to ${addresses.join(', ')} by the bridge`);
  return judge(o, addresses, host, port, local);
}

/** Judges the addresses `host` (canonical: a name or the literal itself) stands for. */
function judge(
  o: DialRouteOptions,
  addresses: readonly string[],
  host: string,
  port: number,
  local: (kind: string, note: string) => void,
): { allowed: string[]; denied: { address: string; reason: string }[] } {
  const name = isIP(host) === 0 ? host : undefined;
  const allowed: string[] = [];
  const denied: { address: string; reason: string }[] = [];
  for (const a of addresses) {
    const v = o.policy.checkAddress(a, port, name);
    local('policy', `${formatHostPort(a, port)}: ${v.allow ? 'allowed' : 'denied'}, ${v.reason}`);
    if (v.allow) allowed.push(a);
    else denied.push({ address: a, reason: v.reason });
  }
  return { allowed, denied };
}

/** The addresses the bridge may dial for `host` (canonical); throws POLICY_DENIED when none is left. */
async function allowedAddresses(
  o: DialRouteOptions,
  host: string,
  port: number,
  signal: AbortSignal,
  local: (kind: string, note: string) => void,
): Promise<string[]> {
  return allowedOf(await judgeAddresses(o, host, port, signal, local), host, port);
}

/** The allowed addresses of a judgement; throws POLICY_DENIED when none is left. */
function allowedOf({ allowed, denied }: { allowed: string[]; denied: { address: string; reason: string }[] }, host: string, port: number): string[] {
  if (allowed.length === 0) {
    throw new WsocksError(WsocksErrorCode.POLICY_DENIED, `${formatHostPort(host, port)}: ${denied[0]?.reason ?? 'no address'}`);
  }
  return allowed;
}

/**
 * What the last hop of a route is asked to CONNECT to. A literal is judged and passed on. A name is passed on
 * unjudged only through a configured route marked `names: "proxy"` (that proxy is the policy boundary; host rules
 * still apply). Otherwise the bridge resolves it and judges every address: with the last hop's `resolve: "local"`
 * (and always for SOCKS4) the checked address is passed on; else the name is when every address passed, and the
 * first allowed address when only some did.
 */
async function targetForRoute(
  o: DialRouteOptions,
  target: CanonicalTarget,
  port: number,
  last: RouteHop,
  /** 1-based index of the hop that is asked. */
  hop: number,
  signal: AbortSignal,
  local: (kind: string, note: string) => void,
): Promise<string> {
  const where = formatHostPort(target.host, port);
  const deny = (reason: string) => new WsocksError(WsocksErrorCode.POLICY_DENIED, `${where}: ${reason}`);
  const socks4 = last.type === 'socks4';
  if (target.kind === 'domain' && o.namesAtProxy && !socks4) {
    const v = o.policy.checkNameOnly(target.host, port);
    local('policy', `target ${where}: ${v.reason}`);
    if (!v.allow) throw deny(v.reason);
    local('resolve', `${target.host} is passed to hop ${hop}, which resolves it (route names: "proxy")`);
    return target.host;
  }
  const { allowed, denied } = await judgeAddresses(o, target.host, port, signal, local);
  if (target.kind !== 'domain') {
    if (denied.length > 0) throw deny(denied[0]!.reason);
    if (socks4 && target.kind === 'ipv6') throw new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} is SOCKS4, which cannot carry the IPv6 address ${target.host}`, { hop });
    return target.host;
  }
  const passName = !socks4 && last.resolve !== 'local';
  if (passName && denied.length === 0) {
    local('resolve', `${target.host} is passed to hop ${hop}, which resolves it (every address it had here was allowed)`);
    return target.host;
  }
  if (passName && allowed.length === 0) throw deny(`${denied[0]!.address}: ${denied[0]!.reason}`);
  // Some addresses were denied (e.g. localhost is both 127.0.0.1 and ::1, and only 127.0.0.0/8 is allowed): the
  // proxy must not resolve the name again, so it is asked for an address the bridge checked, as with "local".
  const picked = socks4 ? allowed.find((a) => isIP(a) === 4) : allowed[0];
  if (picked === undefined) {
    if (denied.length > 0) throw deny(denied[0]!.reason);
    throw new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} is SOCKS4, which needs IPv4, and ${target.host} has no allowed IPv4 address`, { hop });
  }
  const why = socks4 ? ' (SOCKS4 carries addresses only)' : passName ? ` (not the name: ${denied[0]!.address} was denied)` : '';
  local('resolve', `${target.host}: hop ${hop} is asked for ${picked}, the address the bridge checked${why}`);
  return picked;
}

/** Runs `fn` with a signal that fires on the per-step deadline or when the stream is closed; maps failures. */
async function withDeadline<T>(o: DialRouteOptions, hop: number | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // Closed between two steps: the next does not start (its signal would be born aborted, and a step that only
  // listens for 'abort' would wait for a reply that may never come, holding its socket).
  if (o.signal.aborted) throw toWsocksError(undefined, hop, true);
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
  /** What carries the connection from here on: the socket, or a GSS-API protected stream over it. */
  channel: Socket;
}

/** Runs one hop's client handshake over the socket; resolves with the final reply's address and any bytes past it. */
function handshake(
  socket: Socket,
  hop: number,
  options: ConstructorParameters<typeof ClientHandshake>[0],
  gssapi: { hop: RouteHop; udp: boolean; initiators: Initiators | undefined } | undefined,
  signal: AbortSignal,
  onEntry: (e: Omit<TranscriptEntry, 'at'> & { at: number }) => void,
  onBound: (address: { host: string; port: number }) => void,
): Promise<HandshakeResult> {
  const hs = new ClientHandshake(options);
  let channel = socket;
  /** Set once a GSS-API subnegotiation chose integrity or confidentiality: the request and reply travel inside it. */
  let protectedNote: string | undefined;
  return new Promise<HandshakeResult>((resolve, reject) => {
    const detach = () => {
      channel.off('data', onData);
      channel.off('close', onClose);
      channel.off('end', onClose);
      channel.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const cleanup = () => {
      detach();
      channel.pause();
    };
    const attach = () => {
      channel.on('data', onData);
      // The socket is half-open capable: a proxy that hangs up mid-handshake shows as 'end', not 'close'.
      channel.once('end', onClose);
      channel.once('close', onClose);
      channel.on('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      channel.resume();
    };
    const handle = (steps: ClientStep[]) => {
      for (const step of steps) {
        if (step.type === 'write' || step.type === 'read') {
          const m = step.message;
          onEntry({ hop, direction: m.direction, kind: m.kind, hex: m.hex, fields: m.fields, at: 0, ...(protectedNote ? { note: protectedNote } : {}) });
          if (step.type === 'write') channel.write(step.bytes);
        } else if (step.type === 'bound') {
          onBound(step.bound);
        } else if (step.type === 'authenticate') {
          if (!gssapi) {
            cleanup();
            reject(new WsocksError(WsocksErrorCode.HOP_FAILED, `hop ${hop} (${options.type} proxy): selected method 0x${step.method.toString(16)}, which this hop is not configured for`, { hop }));
            return;
          }
          // The RFC 1961 subnegotiation runs on its own listeners; the SOCKS5 machine resumes after it.
          detach();
          runGssapi({ socket: channel, early: hs.takeRest(), hop, config: gssapi.hop, udp: gssapi.udp, initiators: gssapi.initiators, signal, onEntry }).then(
            (done) => {
              channel = done.channel;
              if (done.protection !== 0) protectedNote = `carried inside gssapi.encapsulated messages (RFC 1961 §5, ${done.protection === 2 ? 'confidentiality' : 'integrity'})`;
              attach();
              handle(hs.authenticated());
              if (done.rest.length > 0) onData(Buffer.from(done.rest));
            },
            (err: unknown) => {
              channel.pause();
              reject(err);
            },
          );
          return;
        } else if (step.type === 'done') {
          cleanup();
          resolve({ rest: hs.takeRest(), bound: step.bound, channel });
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
    if (signal.aborted) return onAbort();
    attach();
    handle(hs.start());
  });
}
