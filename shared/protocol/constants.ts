/** Names of the wsocks wire protocol that need no schema library (the browser client imports these alone). */

/** The WebSocket subprotocol; the bridge echoes it. */
export const PROTOCOL_VERSION = 'wsocks.v1';
/** Prefix of the optional second subprotocol that carries the client's token (browsers cannot set headers). */
export const TOKEN_PROTOCOL_PREFIX = 'wsocks.token.';
