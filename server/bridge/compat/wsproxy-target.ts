/**
 * The legacy wsproxy path mode on a Wisp endpoint (docs/compat.md): `ws://bridge/wisp/HOST:PORT` (or
 * `/wisp/TOKEN/HOST:PORT`) is one WebSocket = one TCP connection to HOST:PORT, chosen by the client and judged by
 * the bridge's policy like any target. This reads the target from the last path segment.
 */
import { isValidHostname } from '../../../shared/socks/address.ts';

export type WsproxyTarget = { ok: true; host: string; port: number } | { ok: false; message: string };

/** `host:port`, `[v6]:port`, percent-encoded or not; the host as printable ASCII (an IDN as punycode). */
export function parseWsproxyTarget(segment: string): WsproxyTarget {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    return { ok: false, message: 'wsproxy path: bad percent-encoding' };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!m) return { ok: false, message: 'wsproxy path: the last segment must be HOST:PORT (an IPv6 address in brackets)' };
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { ok: false, message: 'wsproxy path: port must be 1-65535' };
  if (!isValidHostname(host)) return { ok: false, message: 'wsproxy path: the host must be printable ASCII (an IDN as punycode)' };
  return { ok: true, host, port };
}
