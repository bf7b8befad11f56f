/** Who may open a session: token, Origin and per-address limits, checked before the WebSocket upgrade. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_PROTOCOL_PREFIX } from '../../shared/protocol/messages.ts';
import { WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';

export interface Refusal {
  status: number;
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
 * With `origins`, the Origin must be one of them. Without, a browser (which always sends Origin) must be on the
 * bridge's own origin, and a client without an Origin header (not a browser) is let in.
 */
export function originAccepted(origins: readonly string[] | undefined, req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origins) return origin !== undefined && origins.some((o) => new URL(o).origin === origin);
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export function refuse(code: WsocksErrorCodeValue, status: number, message: string): Refusal {
  return { status, code, message };
}

export { WsocksErrorCode };
