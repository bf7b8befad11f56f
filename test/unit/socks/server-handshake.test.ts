import { describe, expect, it } from 'vitest';
import {
  encodeSocks4Request,
  encodeSocks5Greeting,
  encodeSocks5Request,
  encodeUserPassRequest,
  fromHex,
  ServerHandshake,
  toHex,
  type ServerEvent,
} from '../../../shared/socks/index.ts';

/** Feeds chunks and answers auth with `password`; returns the events and the bytes the server would write. */
function run(chunks: Uint8Array[], opts: { methods: number[]; socks4?: boolean; password?: string }) {
  const hs = new ServerHandshake({ methods: opts.methods, socks4: opts.socks4 ?? true });
  const events: ServerEvent[] = [];
  const written: string[] = [];
  let fed = 0;
  outer: for (const chunk of chunks) {
    hs.receive(chunk);
    fed++;
    for (;;) {
      const ev = hs.next();
      if (ev.type === 'need') break;
      events.push(ev);
      if (ev.type === 'greeting') written.push(toHex(ev.reply));
      if (ev.type === 'auth') {
        const ok = Buffer.from(ev.request.password).toString() === opts.password;
        written.push(toHex(hs.authResult(ok)));
        if (!ok) break outer;
      }
      if (ev.type === 'error') {
        if (ev.reply) written.push(toHex(ev.reply));
        break outer;
      }
      if (ev.type === 'request') break outer;
    }
  }
  // What the relay would see after the handshake: the pipelined bytes, then whatever arrived later.
  const rest = () => Buffer.concat([hs.takeRest(), ...chunks.slice(fed)]).toString();
  return { hs, events, written, rest, types: events.map((e) => e.type) };
}

const bytewise = (b: Uint8Array) => Array.from(b, (x) => Uint8Array.of(x));
const pipelined = Uint8Array.from([
  ...encodeSocks5Greeting([0x00, 0x02]),
  ...encodeUserPassRequest('alice', 'pw'),
  ...encodeSocks5Request({ command: 1, host: 'example.com', port: 443 }),
  ...Buffer.from('GET / HTTP/1.0\r\n\r\n'),
]);

describe('ServerHandshake', () => {
  it.each([
    ['in one write (pipelined)', [pipelined]],
    ['one byte at a time', bytewise(pipelined)],
  ])('runs greeting, RFC 1929 auth and request %s, keeping the data after it', (_how, chunks) => {
    const { hs, types, written, events, rest } = run(chunks, { methods: [0x02], password: 'pw' });
    expect(types).toEqual(['greeting', 'auth', 'request']);
    expect(written).toEqual(['05 02', '01 00']);
    const request = events[2];
    expect(request?.type === 'request' && request.request).toMatchObject({ version: 5, host: 'example.com', port: 443 });
    expect(rest()).toBe('GET / HTTP/1.0\r\n\r\n');
    expect(hs.version).toBe(5);
  });

  it('masks the password in the auth event fields', () => {
    const { events } = run([pipelined], { methods: [0x02], password: 'pw' });
    const auth = events[1];
    expect(auth?.type === 'auth' && auth.fields.find((f) => f.label === 'PASSWD')?.value).toBe('(masked, 2 bytes)');
  });

  it('answers a wrong password with 01 01 and goes no further', () => {
    const { types, written } = run([pipelined], { methods: [0x02], password: 'other' });
    expect(types).toEqual(['greeting', 'auth']);
    expect(written).toEqual(['05 02', '01 01']);
  });

  it('answers 05 FF to a client offering only GSSAPI', () => {
    const { events, written } = run([fromHex('05 01 01')], { methods: [0x00, 0x02] });
    expect(events[0]).toMatchObject({ type: 'greeting', method: 0xff });
    expect(written).toEqual(['05 ff']);
  });

  it('picks no-auth when the server allows it', () => {
    const { written, types } = run([fromHex('05 02 00 02'), encodeSocks5Request({ command: 1, host: '::1', port: 80 })], {
      methods: [0x00],
    });
    expect(written).toEqual(['05 00']);
    expect(types).toEqual(['greeting', 'request']);
  });

  it('answers a bad address type with REP 0x08', () => {
    const { types, written, events } = run([fromHex('05 01 00 05 01 00 09 00 00')], { methods: [0x00] });
    expect(types).toEqual(['greeting', 'error']);
    expect(events[1]).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_BAD_ATYP' } });
    expect(written[1]).toBe('05 08 00 01 00 00 00 00 00 00');
  });

  it('reads SOCKS4a requests and answers garbage in them with 0x5B', () => {
    const ok = run(bytewise(encodeSocks4Request({ command: 1, host: 'localhost', port: 80, userId: 'bob' })), { methods: [0] });
    expect(ok.events[0]).toMatchObject({ type: 'request', request: { version: 4, socks4a: true, host: 'localhost' } });
    const bad = run([fromHex('04 01 00 50 00 00 00 01 00 0a 00')], { methods: [0] });
    expect(bad.written).toEqual(['00 5b 00 00 00 00 00 00']);
  });

  it('refuses SOCKS4 when it is not enabled and unknown versions always', () => {
    expect(run([fromHex('04 01 00 50 7f 00 00 01 00')], { methods: [0], socks4: false }).events[0]).toMatchObject({
      type: 'error',
      error: { code: 'ERR_SOCKS_BAD_VERSION', message: 'SOCKS4 is not enabled on this server' },
    });
    const http = run([Buffer.from('GET / HTTP/1.1\r\n')], { methods: [0] });
    expect(http.events[0]).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_BAD_VERSION' } });
    expect(http.written).toEqual([]);
  });

  it('throws a coded error when used out of order', () => {
    const hs = new ServerHandshake({ methods: [0], socks4: true });
    expect(() => hs.authResult(true)).toThrow(expect.objectContaining({ code: 'ERR_SOCKS_BAD_STATE' }));
  });
});
