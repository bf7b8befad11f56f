/** How the compat endpoints (websockify, Wisp) dial a target: the bridge's dialer and policy over a configured route. */
import type { SessionContext } from '../session.ts';
import { dialRoute, type DialedRoute } from '../dial-route.ts';

/** The hops of a configured route (none: direct), with their credentials kept out of messages. */
export function routeHops(ctx: SessionContext, route: string | undefined) {
  const r = route === undefined ? undefined : ctx.config.routes[route];
  return r ? [...r.hops] : [];
}

/**
 * Dials host:port directly (no route) or through the named route of the config; rejects with a WsocksError.
 * `udp`: a UDP ASSOCIATE at the route's last hop (a SOCKS5 proxy); host and port are then 0.0.0.0:0.
 */
export function dialTarget(
  ctx: SessionContext,
  host: string,
  port: number,
  route: string | undefined,
  signal: AbortSignal,
  command: 'connect' | 'udp' = 'connect',
): Promise<DialedRoute> {
  const { config, policy, resolve, gssapi } = ctx;
  return dialRoute({
    host,
    port,
    command,
    hops: routeHops(ctx, route),
    checkFirstHop: false,
    policy,
    resolve,
    gssapi,
    namesAtProxy: route !== undefined && config.routes[route]?.names === 'proxy',
    timeoutMs: config.limits.handshakeTimeoutMs,
    signal,
  });
}
