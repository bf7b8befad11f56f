import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../../server/bridge/config.ts';
import { wispCloseReasonFor } from '../../../shared/protocol/wisp-close-reason.ts';
import { WsocksErrorCode } from '../../../shared/protocol/errors.ts';
import { WispCloseReason } from '../../../shared/protocol/wisp-frame.ts';

describe('compat config', () => {
  const routes = { r: [{ type: 'socks5' as const, host: '127.0.0.1', port: 1080 }] };

  it('accepts websockify targets and Wisp endpoints naming known routes', () => {
    const c = parseBridgeConfig({
      routes,
      compat: { websockify: { targets: { 'long-enough': { host: 'h', port: 1, route: 'r' } } }, wisp: [{ path: '/wisp/', route: 'r' }] },
    });
    expect(c.compat.websockify?.path).toBe('/websockify');
    expect(c.compat.wisp).toEqual([{ path: '/wisp/', route: 'r', udp: true, wsproxy: false }]);
    expect(parseBridgeConfig({}).compat).toEqual({ wisp: [] });
  });

  it.each([
    [{ websockify: { targets: { 'long-enough': { host: 'h', port: 1, route: 'nope' } } } }, /route "nope"/],
    [{ websockify: { targets: { short: { host: 'h', port: 1 } } } }, /compat\.websockify\.targets/],
    [{ websockify: { path: '/', targets: {} } }, /wsocks\.v1/],
    [{ wisp: [{ path: '/wisp' }] }, /ends with \//],
    [{ wisp: [{ path: '/wisp/', route: 'nope' }] }, /compat\.wisp\.0\.route/],
    [{ wisp: [{ path: '/a/' }, { path: '/a/' }] }, /unique/],
    [{ wisp: [{ path: '/a/', motd: 'x'.repeat(1001) }] }, /compat\.wisp\.0\.motd/],
    [{ wisp: [{ path: '/a/', udp: 'yes' }] }, /compat\.wisp\.0\.udp/],
  ])('refuses %j naming the field', (compat, message) => {
    expect(() => parseBridgeConfig({ routes, compat })).toThrow(message);
  });
});

describe('Wisp close reasons for wsocks errors', () => {
  it.each([
    [WsocksErrorCode.POLICY_DENIED, undefined, WispCloseReason.BLOCKED],
    [WsocksErrorCode.CONNECT_FAILED, 0x05, WispCloseReason.REFUSED],
    [WsocksErrorCode.HOP_FAILED, 0x04, WispCloseReason.UNREACHABLE],
    [WsocksErrorCode.HOP_FAILED, 0x02, WispCloseReason.BLOCKED],
    [WsocksErrorCode.CONNECT_FAILED, undefined, WispCloseReason.UNREACHABLE],
    [WsocksErrorCode.TIMEOUT, undefined, WispCloseReason.CONNECT_TIMEOUT],
    [WsocksErrorCode.CONNECT_FAILED, 0x06, WispCloseReason.CONNECT_TIMEOUT],
    [WsocksErrorCode.IDLE_TIMEOUT, undefined, WispCloseReason.DATA_TIMEOUT],
    [WsocksErrorCode.BRIDGE_FULL, undefined, WispCloseReason.THROTTLED],
    [WsocksErrorCode.STREAM_RESET, undefined, WispCloseReason.NETWORK_ERROR],
    [WsocksErrorCode.BAD_TARGET, undefined, WispCloseReason.INVALID_INFO],
    [WsocksErrorCode.SESSION_CLOSED, undefined, WispCloseReason.UNKNOWN],
  ])('%s (SOCKS reply %s) -> Wisp reason %i', (code, reply, reason) => {
    expect(wispCloseReasonFor(code, reply)).toBe(reason);
  });
});
