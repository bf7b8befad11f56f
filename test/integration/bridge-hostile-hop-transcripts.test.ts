import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { openSession, roundTrip } from '../helpers/bridge.ts';
import { startEcho, type Running } from '../helpers/net.ts';
import { startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';

/**
 * Hostile hops under an inspected stream (`inspect: true`): the bridge decodes every handshake byte of a hop into
 * transcript entries (what the byte lab shows). A proxy that answers with truncated, unknown or odd bytes must give
 * the stream a coded error (or a working stream), well-formed entries, and leave the bridge serving.
 */

/** After the bridge's greeting (read first), the proxy writes `reply` and then ends, resets or echoes. */
type Reply = { after: 'greeting' | 'request'; bytes: Buffer; then: 'end' | 'reset' | 'echo' | 'hold' };

const b = (...xs: Array<number | string | Buffer>) => Buffer.concat(xs.map((x) => (typeof x === 'number' ? Buffer.from([x]) : typeof x === 'string' ? Buffer.from(x, 'latin1') : x)));
const ok5 = b(5, 0);

const SOCKS5: Array<[string, Reply[]]> = [
  ['a method it was not offered (0x02)', [{ after: 'greeting', bytes: b(5, 2), then: 'hold' }]],
  ['GSS-API (0x01), not offered', [{ after: 'greeting', bytes: b(5, 1), then: 'hold' }]],
  ['version 4 in the method reply', [{ after: 'greeting', bytes: b(4, 0), then: 'hold' }]],
  ['one byte, then FIN', [{ after: 'greeting', bytes: b(5), then: 'end' }]],
  ['one byte, then a reset', [{ after: 'greeting', bytes: b(5), then: 'reset' }]],
  ['64 KiB of 0xff', [{ after: 'greeting', bytes: Buffer.alloc(65536, 0xff), then: 'hold' }]],
  ['a reply naming a 255-byte domain, cut short, then FIN', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 3, 255, 'abc'), then: 'end' }]],
  ['a reply with ATYP 0x09', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 9, 1, 2, 3, 4, 0, 80), then: 'hold' }]],
  ['a reply with REP 0x7f', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0x7f, 0, 1, 127, 0, 0, 1, 0, 80), then: 'hold' }]],
  ['a reply with a reserved byte set', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0xff, 1, 127, 0, 0, 1, 0, 80), then: 'echo' }]],
  ['a success naming a domain of NUL, 0xff, LF and U+2028 bytes', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 3, 9, '\u0000\u00ff\n', Buffer.from('\u2028<b>', 'utf8'), 0, 80), then: 'echo' }]],
  ['a success with a zero-length domain', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 3, 0, 0, 80), then: 'echo' }]],
  ['a success naming ::ffff:127.0.0.1 port 0', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 4, Buffer.from('00000000000000000000ffff7f000001', 'hex'), 0, 0), then: 'echo' }]],
  ['a success and 1000 bytes of payload in one write', [{ after: 'greeting', bytes: ok5, then: 'hold' }, { after: 'request', bytes: b(5, 0, 0, 1, 127, 0, 0, 1, 0, 80, Buffer.alloc(1000, 0x41)), then: 'echo' }]],
  ['the method reply and the request reply in one write, before the request', [{ after: 'greeting', bytes: b(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80), then: 'echo' }]],
];

const SOCKS4: Array<[string, Reply[]]> = [
  ['VN 4 instead of 0', [{ after: 'greeting', bytes: b(4, 0x5a, 0, 80, 127, 0, 0, 1), then: 'hold' }]],
  ['CD 0xff', [{ after: 'greeting', bytes: b(0, 0xff, 0, 80, 127, 0, 0, 1), then: 'hold' }]],
  ['three bytes, then FIN', [{ after: 'greeting', bytes: b(0, 0x5a, 0), then: 'end' }]],
  ['a grant and payload in one write', [{ after: 'greeting', bytes: b(0, 0x5a, 0, 80, 127, 0, 0, 1, 'hello'), then: 'echo' }]],
];

describe('inspected streams through hostile hops', () => {
  let bridge: BridgeServer;
  let proxy: ScriptedTarget;
  let echo: Running;
  const logs: string[] = [];

  beforeAll(async () => {
    echo = await startEcho();
    proxy = await startScripted();
    bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, clientChains: true }, { log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await bridge?.close();
    await proxy?.close();
    await echo?.close();
  });

  /** Plays `replies`: each after the next chunk the bridge sends (its greeting, then its request). */
  function play(replies: Reply[]): void {
    proxy.script = (s: Socket) => {
      const queue = [...replies];
      const onData = () => {
        const r = queue.shift();
        if (!r) return;
        s.write(r.bytes);
        if (r.then === 'end') s.end();
        else if (r.then === 'reset') s.resetAndDestroy();
        else if (r.then === 'echo' && queue.length === 0) {
          s.off('data', onData);
          s.pipe(s);
        }
      };
      s.on('data', onData);
    };
  }

  it.each([...SOCKS5.map(([n, r]) => ['socks5', n, r] as const), ...SOCKS4.map(([n, r]) => ['socks4', n, r] as const)])(
    '%s hop answering %s: a coded error or a working stream, well-formed entries, the bridge serves on',
    async (type, _name, replies) => {
      play(replies);
      const session = await openSession(bridge.url);
      const socket = session.open({ host: '127.0.0.1', port: echo.port }, { via: [{ type, host: '127.0.0.1', port: proxy.port }], inspect: true });
      const outcome = await socket.opened.then(
        async (info) => {
          // The proxy echoes: bytes after its reply come back, whatever it put before them.
          const writer = info.writable.getWriter();
          await writer.write(new TextEncoder().encode('x'));
          writer.releaseLock();
          return 'opened';
        },
        (err: { code?: string }) => err.code ?? 'no code',
      );
      expect(outcome).toMatch(/^(opened|ERR_[A-Z_]+)$/);
      for (const e of socket.transcript) {
        expect(typeof e.kind).toBe('string');
        expect(e.hex).toMatch(/^[0-9a-f ]*$/);
        expect(Array.isArray(e.fields)).toBe(true);
      }
      // The same session still opens a stream straight to the echo.
      const witness = session.open({ host: '127.0.0.1', port: echo.port }, { inspect: true });
      expect(await roundTrip(await witness.opened, 'still here')).toBe('still here');
      session.close();
      await session.closed;
      expect(logs.filter((l) => /internal error/.test(l))).toEqual([]);
    },
  );
});
