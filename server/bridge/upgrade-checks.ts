/** Who may open a session: token, Origin and per-address limits, checked before the WebSocket upgrade. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PROTOCOL_VERSION, TOKEN_PROTOCOL_PREFIX } from '../../shared/protocol/messages.ts';
import { SESSION_CLOSE_CODES, type SessionCloseErrorCode } from '../../shared/protocol/close-codes.ts';
import { WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';

export interface Refusal {
  /** HTTP status, for a request that does not offer wsocks.v1. */
  status: number;
  /** WebSocket close code, for one that does: it is accepted, then closed with `<code> <message>`. */
  closeCode: number;
  code: WsocksErrorCodeValue;
  message: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares a presented token with every configured one in constant time (per token). Never logs it. */
export function tokenAccepted(tokens: readonly string[], presented: string | undefined): boolean {
  if (tokens.length === 0) return true;
  const got = digest(presented ?? '');
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(digest(t), got) || ok;
  return ok && presented !== undefined;
}

/** The token from `Authorization: Bearer ...` or from a `wsocks.token.<token>` subprotocol. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const carrier = protocols.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return carrier?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

/**
 * With `origins`, the Origin must be one of them (and a client without an Origin header is refused). Without
 * `origins`, a client without Origin (not a browser: a Node client, curl) is let in, and a browser only from a page
 * served by the bridge itself on loopback: scheme http (the bridge speaks ws, not wss), the bridge's own port, and
 * a loopback host (localhost, *.localhost, 127.0.0.0/8, [::1]) that is the bridge's listen host or, when it listens
 * on a loopback or unspecified address, any loopback host. The Host header is never trusted: a page on a name
 * rebound to 127.0.0.1 sends its own Origin and is refused.
 */
export function originAccepted(origins: readonly string[] | undefined, req: IncomingMessage, self: { host: string; port: number }): boolean {
  const origin = req.headers.origin;
  if (origins) return origin !== undefined && origins.some((o) => new URL(o).origin === origin);
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || url.origin !== origin) return false;
  const port = url.port === '' ? 80 : Number(url.port);
  if (port !== self.port) return false;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!isLoopbackHost(host)) return false;
  const listen = self.host.startsWith('[') ? self.host.slice(1, -1) : self.host;
  return host === listen || isLoopbackHost(listen) || listen === '0.0.0.0' || listen === '::';
}

/** localhost, *.localhost (RFC 6761: always loopback in browsers), 127.0.0.0/8 or ::1, as a URL host parser gives them. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

export function refuse(code: SessionCloseErrorCode, status: number, message: string): Refusal {
  return { status, closeCode: SESSION_CLOSE_CODES[code], code, message };
}

/** Whether the request offers the wsocks.v1 subprotocol. */
export function offersProtocol(req: IncomingMessage): boolean {
  return (req.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim() === PROTOCOL_VERSION);
}

export { WsocksErrorCode };
