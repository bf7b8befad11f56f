/** Error codes of the wsocks wire protocol, shared by the bridge and the client library. */
export const WsocksErrorCode = {
  /** A control message that is not JSON, or does not match its schema. */
  BAD_MESSAGE: 'ERR_BAD_MESSAGE',
  /** A binary frame too short for its header, or for a stream that does not exist. */
  BAD_FRAME: 'ERR_BAD_FRAME',
  /** A message larger than the bridge's maxMessageBytes. */
  MESSAGE_TOO_LARGE: 'ERR_MESSAGE_TOO_LARGE',
  /** `open` with an id that is already in use. */
  STREAM_EXISTS: 'ERR_STREAM_EXISTS',
  TOO_MANY_STREAMS: 'ERR_TOO_MANY_STREAMS',
  /** More data sent than the receiver granted credit for. */
  FLOW_CONTROL: 'ERR_FLOW_CONTROL',
  /**
   * The target host is not a host: control characters, NUL, whitespace, an empty or over-long label, an IPv6 zone
   * id, a bad IP literal. The message ends with the reason in parentheses (shared/net/canonical-target.ts).
   */
  BAD_TARGET: 'ERR_BAD_TARGET',
  /** The target (or, through a chain, its name and port) is denied by the bridge's policy. */
  POLICY_DENIED: 'ERR_POLICY_DENIED',
  UNKNOWN_ROUTE: 'ERR_UNKNOWN_ROUTE',
  /** `via` given while the bridge does not let clients describe chains. */
  CLIENT_CHAINS_DISABLED: 'ERR_CLIENT_CHAINS_DISABLED',
  /** BIND and UDP need a route (the bridge does not listen or relay by itself), UDP a SOCKS5 last hop. */
  ROUTE_REQUIRED: 'ERR_ROUTE_REQUIRED',
  /** A datagram larger than the stream's limit. */
  DATAGRAM_TOO_LARGE: 'ERR_DATAGRAM_TOO_LARGE',
  /** A SOCKS hop failed: `hop` names it (1-based), `replyCode` carries its reply where it gave one. */
  HOP_FAILED: 'ERR_HOP_FAILED',
  /** Connecting to the target, or to the first hop, failed; `replyCode` is the SOCKS5 code for the cause. */
  CONNECT_FAILED: 'ERR_CONNECT_FAILED',
  /**
   * A GSS-API hop (RFC 1961): no security context could be established (no or expired ticket, unknown service
   * principal, a token that does not verify). `hop` names it.
   */
  GSSAPI_FAILED: 'ERR_GSSAPI_FAILED',
  /** A GSS-API hop sent the RFC 1961 abort (01 FF): it refused our credentials or protection level. */
  GSSAPI_REJECTED: 'ERR_GSSAPI_REJECTED',
  /** A GSS-API hop chose a protection level below the configured one or one the bridge cannot carry. */
  GSSAPI_PROTECTION: 'ERR_GSSAPI_PROTECTION',
  /** A GSS-API hop is configured but the bridge's `kerberos` addon is not installed or does not load. */
  GSSAPI_UNAVAILABLE: 'ERR_GSSAPI_UNAVAILABLE',
  /** A hop or the target did not answer within the handshake/connect timeout. */
  TIMEOUT: 'ERR_TIMEOUT',
  IDLE_TIMEOUT: 'ERR_IDLE_TIMEOUT',
  /** The TCP connection failed after it was open (other than a reset: e.g. keepalive timed out). */
  STREAM_FAILED: 'ERR_STREAM_FAILED',
  /** The target (or a hop relaying its RST) reset the connection: the stream did not end cleanly. */
  STREAM_RESET: 'ERR_STREAM_RESET',
  /** The WebSocket closed while the stream was open. */
  SESSION_CLOSED: 'ERR_SESSION_CLOSED',
  /** An open outside what the session's signed token allows (routes, via, direct, targets, streams). */
  TOKEN_SCOPE: 'ERR_TOKEN_SCOPE',
  /** The session's signed token allows fewer payload bytes than the session tried to carry: it is closed (4402). */
  TOKEN_QUOTA: 'ERR_TOKEN_QUOTA',
  /** Upgrade refused: missing or wrong token. */
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  /** Upgrade refused: Origin not allowed. */
  ORIGIN_DENIED: 'ERR_ORIGIN_DENIED',
  /** Upgrade refused: too many WebSockets from this address. */
  TOO_MANY_SESSIONS: 'ERR_TOO_MANY_SESSIONS',
  /** A global limit of the bridge is reached: total sessions (session closed 4503) or total streams (stream error). */
  BRIDGE_FULL: 'ERR_BRIDGE_FULL',
  /** The client stopped reading and the bridge's outgoing buffer for it stayed over its bound (close 4008). */
  SESSION_OVERLOADED: 'ERR_SESSION_OVERLOADED',
  /** The bridge is draining or shutting down (close 1001). */
  SHUTTING_DOWN: 'ERR_SHUTTING_DOWN',
  /** Client: the WebSocket to the bridge failed before the bridge's hello (bridge down, HTTP refusal, network). */
  BRIDGE_UNREACHABLE: 'ERR_BRIDGE_UNREACHABLE',
  /** Client: the caller's AbortSignal aborted `connect()` or a stream. */
  ABORTED: 'ERR_ABORTED',
} as const;
export type WsocksErrorCodeValue = (typeof WsocksErrorCode)[keyof typeof WsocksErrorCode];

/** An error from the bridge or the client library; match on `code`. */
export class WsocksError extends Error {
  override readonly name = 'WsocksError';
  readonly code: WsocksErrorCodeValue;
  /** The 1-based hop of the chain that failed, when a SOCKS hop did. */
  readonly hop: number | undefined;
  /** The SOCKS reply code behind it (SOCKS5 REP, or SOCKS4 CD such as 0x5B), when there is one. */
  readonly replyCode: number | undefined;

  /** Client: the WebSocket close code, when the error is the session's close (4401, 1001, 1006...). */
  readonly closeCode: number | undefined;

  constructor(
    code: WsocksErrorCodeValue,
    message: string,
    details: { hop?: number | undefined; replyCode?: number | undefined; closeCode?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.hop = details.hop;
    this.replyCode = details.replyCode;
    this.closeCode = details.closeCode;
  }
}
