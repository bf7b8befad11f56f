import { describe, expect, it } from 'vitest';
import { parseWsproxyTarget } from '../../../server/bridge/compat/wsproxy-target.ts';

describe('wsproxy path target', () => {
  it.each([
    ['127.0.0.1:5900', '127.0.0.1', 5900],
    ['example.com:80', 'example.com', 80],
    ['[::1]:22', '::1', 22],
    ['%5B%3A%3Affff%3A127.0.0.1%5D:8080', '::ffff:127.0.0.1', 8080],
    ['0x7f.1:65535', '0x7f.1', 65535],
  ])('reads %s', (segment, host, port) => {
    expect(parseWsproxyTarget(segment)).toEqual({ ok: true, host, port });
  });

  it.each(['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', 'h:123456', '::1:22', ':80', 'a b:80', '%E0%A4%A:80', 'h%00:80', 'ä.example:80', '[::1]:', 'h:-1'])(
    'refuses %j with a message',
    (segment) => {
      expect(parseWsproxyTarget(segment)).toMatchObject({ ok: false, message: expect.stringContaining('wsproxy path') });
    },
  );
});
