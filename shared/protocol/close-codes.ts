/**
 * How the bridge ends a session it refuses or drops: a WebSocket close code and a reason `<CODE> <message>`, so
 * that a browser, which never sees HTTP statuses, can tell why (docs/protocol.md §1).
 */
import { utf8Encode } from '../socks/address.ts';
import { WsocksErrorCode, type WsocksErrorCodeValue } from './errors.ts';

/** The close code for each session-level error code. */
export const SESSION_CLOSE_CODES = {
  [WsocksErrorCode.BAD_MESSAGE]: 4400,
  [WsocksErrorCode.UNAUTHORIZED]: 4401,
  [WsocksErrorCode.TOKEN_QUOTA]: 4402,
  [WsocksErrorCode.ORIGIN_DENIED]: 4403,
  [WsocksErrorCode.TOO_MANY_SESSIONS]: 4429,
  [WsocksErrorCode.BRIDGE_FULL]: 4503,
  [WsocksErrorCode.SESSION_OVERLOADED]: 4008,
  [WsocksErrorCode.SHUTTING_DOWN]: 1001,
} as const satisfies Partial<Record<WsocksErrorCodeValue, number>>;
export type SessionCloseErrorCode = keyof typeof SESSION_CLOSE_CODES;

/** A close reason may carry at most 123 bytes of UTF-8 (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** `<CODE> <message>`, cut (at a character boundary) to fit in a close frame. */
export function closeReason(code: string, message: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of `${code} ${message}`) {
    bytes += utf8Encode(ch).length;
    if (bytes > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
  }
  return out;
}

/** Splits a close reason into its code (the first word, when it looks like `ERR_...`) and message. */
export function parseCloseReason(reason: string): { code: string; message: string } | undefined {
  const m = /^(ERR_[A-Z0-9_]+)(?: (.*))?$/s.exec(reason);
  return m ? { code: m[1]!, message: m[2] ?? '' } : undefined;
}

/**
 * One-stream endpoints (websockify mode, docs/compat.md): how the WebSocket ends with its TCP connection. END: the
 * target closed (FIN) and every byte before it was sent. RESET: the target reset the connection (reason
 * `ERR_STREAM_RESET ...`), never to be taken for a complete stream. FAILED: opening or relaying failed (reason
 * `<CODE> <message>`, e.g. ERR_POLICY_DENIED, ERR_CONNECT_FAILED, ERR_TIMEOUT, ERR_HOP_FAILED, ERR_IDLE_TIMEOUT).
 */
export const STREAM_CLOSE_CODES = { END: 1000, RESET: 4000, FAILED: 4001 } as const;
