import { CodedError } from '../errors/coded-error.ts';

/** Error codes of identd (RFC 1413) checks: the reply parser's and the outcomes of a check. Callers match on `code`. */
export const IdentErrorCode = {
  /** The reply line breaks RFC 1413: no port pair, unknown reply type, empty or over-long token, NUL byte. */
  BAD_REPLY: 'ERR_IDENT_BAD_REPLY',
  /** More than MAX_IDENT_LINE bytes arrived without an end of line (RFC 1413 lets a client give up at 1000). */
  REPLY_TOO_LONG: 'ERR_IDENT_REPLY_TOO_LONG',
  /** The reply names another port pair than the query. */
  PORT_MISMATCH: 'ERR_IDENT_PORT_MISMATCH',
  /** The identd could not be reached: refused, unreachable, reset. */
  UNREACHABLE: 'ERR_IDENT_UNREACHABLE',
  /** The identd closed before a whole reply line. */
  NO_REPLY: 'ERR_IDENT_NO_REPLY',
  /** No whole reply within the check's timeout. */
  TIMEOUT: 'ERR_IDENT_TIMEOUT',
  /** The identd answered `ERROR : <type>` (NO-USER, HIDDEN-USER, INVALID-PORT, UNKNOWN-ERROR, ...). */
  ERROR_REPLY: 'ERR_IDENT_ERROR_REPLY',
  /** The identd named another user than the one the client claimed. */
  USER_MISMATCH: 'ERR_IDENT_USER_MISMATCH',
} as const;
export type IdentErrorCodeValue = (typeof IdentErrorCode)[keyof typeof IdentErrorCode];

export class IdentError extends CodedError<IdentErrorCodeValue> {
  override readonly name = 'IdentError';
}
