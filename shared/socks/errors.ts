/** Stable error codes of the SOCKS codec. Callers match on `code`, never on the message. */
export const SocksErrorCode = {
  BAD_VERSION: 'ERR_SOCKS_BAD_VERSION',
  BAD_ATYP: 'ERR_SOCKS_BAD_ATYP',
  BAD_HOSTNAME: 'ERR_SOCKS_BAD_HOSTNAME',
  BAD_ADDRESS: 'ERR_SOCKS_BAD_ADDRESS',
  BAD_PORT: 'ERR_SOCKS_BAD_PORT',
  NO_METHODS: 'ERR_SOCKS_NO_METHODS',
  FIELD_TOO_LONG: 'ERR_SOCKS_FIELD_TOO_LONG',
  BAD_COMMAND: 'ERR_SOCKS_BAD_COMMAND',
  UNEXPECTED_DATA: 'ERR_SOCKS_UNEXPECTED_DATA',
  NO_ACCEPTABLE_METHOD: 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
  AUTH_FAILED: 'ERR_SOCKS_AUTH_FAILED',
  BAD_STATE: 'ERR_SOCKS_BAD_STATE',
  REJECTED: 'ERR_SOCKS_REJECTED',
  PROXY_CLOSED: 'ERR_SOCKS_PROXY_CLOSED',
  /** A GSS-API operation failed: no or expired ticket, unknown service principal, keytab without the key. */
  GSSAPI_FAILED: 'ERR_GSSAPI_FAILED',
  /** The peer sent the RFC 1961 abort (01 FF): it refused our context or protection level. */
  GSSAPI_REJECTED: 'ERR_GSSAPI_REJECTED',
  /** The protection level could not be agreed (refused, unreadable, or not supported here). */
  GSSAPI_PROTECTION: 'ERR_GSSAPI_PROTECTION',
  /** An RFC 1961 message of the wrong type for the step, or with an empty token. */
  GSSAPI_BAD_MESSAGE: 'ERR_GSSAPI_BAD_MESSAGE',
} as const;
export type SocksErrorCodeValue = (typeof SocksErrorCode)[keyof typeof SocksErrorCode];

/**
 * A protocol error found in SOCKS bytes. `offset` is the byte (within the message) that was wrong, where known;
 * `replyCode` is the SOCKS reply a server should answer with, where the protocol has one.
 */
export class SocksError extends Error {
  override readonly name = 'SocksError';
  readonly code: SocksErrorCodeValue;
  readonly offset: number | undefined;
  readonly replyCode: number | undefined;

  constructor(code: SocksErrorCodeValue, message: string, options: { offset?: number; replyCode?: number } = {}) {
    super(message);
    this.code = code;
    this.offset = options.offset;
    this.replyCode = options.replyCode;
  }
}
