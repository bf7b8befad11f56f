/** Which Wisp CLOSE reason tells a Wisp client about a wsocks error (docs/compat.md has the table). */
import { WsocksErrorCode, type WsocksErrorCodeValue } from './errors.ts';
import { WispCloseReason } from './wisp-frame.ts';

/** SOCKS5 reply codes (RFC 1928 §6) as a hop or the bridge's own dialer reports them. */
const BY_REPLY: Record<number, number> = {
  0x02: WispCloseReason.BLOCKED, // not allowed by ruleset
  0x03: WispCloseReason.UNREACHABLE, // network unreachable
  0x04: WispCloseReason.UNREACHABLE, // host unreachable
  0x05: WispCloseReason.REFUSED, // connection refused
  0x06: WispCloseReason.CONNECT_TIMEOUT, // TTL expired
};

export function wispCloseReasonFor(code: WsocksErrorCodeValue, replyCode?: number): number {
  switch (code) {
    case WsocksErrorCode.POLICY_DENIED:
    case WsocksErrorCode.TOKEN_SCOPE:
      return WispCloseReason.BLOCKED;
    case WsocksErrorCode.BAD_TARGET:
      return WispCloseReason.INVALID_INFO;
    case WsocksErrorCode.TIMEOUT:
      return WispCloseReason.CONNECT_TIMEOUT;
    case WsocksErrorCode.IDLE_TIMEOUT:
      return WispCloseReason.DATA_TIMEOUT;
    case WsocksErrorCode.BRIDGE_FULL:
    case WsocksErrorCode.TOO_MANY_STREAMS:
      return WispCloseReason.THROTTLED;
    case WsocksErrorCode.STREAM_RESET:
    case WsocksErrorCode.STREAM_FAILED:
      return WispCloseReason.NETWORK_ERROR;
    case WsocksErrorCode.CONNECT_FAILED:
    case WsocksErrorCode.HOP_FAILED:
      return (replyCode !== undefined ? BY_REPLY[replyCode] : undefined) ?? WispCloseReason.UNREACHABLE;
    default:
      return WispCloseReason.UNKNOWN;
  }
}
