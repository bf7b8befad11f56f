/** How the compat endpoints (websockify, Wisp) dial a target: the bridge's dialer and policy over a configured route. */
import type { SessionContext } from '../session.ts';
import { dialRoute, type DialedRoute } from '../dial-route.ts';

/** Dials host:port directly (no route) or through the named route of the config; rejects with a WsocksError. */
export function dialTarget(ctx: SessionContext, host: string, port: number, route: string | undefined, signal: AbortSignal): Promise<DialedRoute> {
  const { config, policy, resolve } = ctx;
  const r = route === undefined ? undefined : config.routes[route];
  return dialRoute({
    host,
    port,
    hops: r ? r.hops.map((h) => ({ ...h, secret: true })) : [],
    checkFirstHop: false,
    policy,
    resolve,
    namesAtProxy: r?.names === 'proxy',
    timeoutMs: config.limits.handshakeTimeoutMs,
    signal,
  });
}
