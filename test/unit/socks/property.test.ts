import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSocks4Reply,
  decodeSocks4Request,
  decodeSocks5Greeting,
  decodeSocks5MethodSelection,
  decodeSocks5Reply,
  decodeSocks5Request,
  decodeUdpDatagram,
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeSocks4Request,
  encodeSocks5Greeting,
  encodeSocks5Reply,
  encodeSocks5Request,
  encodeUdpDatagram,
  encodeUserPassRequest,
  formatIPv4,
  formatIPv6,
  parseIPv6,
  ServerHandshake,
  SocksError,
  type DecodeResult,
} from '../../../shared/socks/index.ts';

const decoders: Array<[string, (b: Uint8Array) => DecodeResult<unknown>]> = [
  ['socks4 request', decodeSocks4Request],
  ['socks4 reply', decodeSocks4Reply],
  ['socks5 greeting', decodeSocks5Greeting],
  ['socks5 method', decodeSocks5MethodSelection],
  ['socks5 request', decodeSocks5Request],
  ['socks5 reply', decodeSocks5Reply],
  ['userpass request', decodeUserPassRequest],
  ['userpass reply', decodeUserPassReply],
  ['udp datagram', decodeUdpDatagram],
];

const hostname = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,62}$/);
const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map(formatIPv4);
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIPv6);
const host = fc.oneof(hostname, ipv4, ipv6);
const port = fc.integer({ min: 0, max: 65535 });

describe('decoders on random bytes', () => {
  it.each(decoders)('%s never throws and never claims more bytes than it has', (_name, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const result = decode(bytes);
        if (result.status === 'done') expect(result.length).toBeLessThanOrEqual(bytes.length);
        if (result.status === 'need') expect(result.need).toBeGreaterThan(0);
        if (result.status === 'error') expect(result.error).toBeInstanceOf(SocksError);
      }),
      { numRuns: 2000 },
    );
  });

  it('the server handshake never throws on random bytes in random chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), (chunks) => {
        const hs = new ServerHandshake({ methods: [0x02, 0x00], socks4: true });
        for (const chunk of chunks) {
          hs.receive(chunk);
          for (;;) {
            const ev = hs.next();
            if (ev.type === 'need') break;
            if (ev.type === 'auth') hs.authResult(false);
            if (ev.type === 'error' || ev.type === 'request' || ev.type === 'auth') return;
            if (ev.type === 'greeting' && ev.method === 0xff) return;
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('encode then decode round-trips', () => {
  it('SOCKS5 requests', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), host, port, (command, h, p) => {
        const result = decodeSocks5Request(encodeSocks5Request({ command, host: h, port: p }));
        expect(result).toMatchObject({ status: 'done', message: { command, host: h, port: p } });
      }),
    );
  });

  it('SOCKS5 replies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), host, port, (reply, h, p) => {
        expect(decodeSocks5Reply(encodeSocks5Reply({ reply, host: h, port: p }))).toMatchObject({
          status: 'done',
          message: { reply, host: h, port: p },
        });
      }),
    );
  });

  it('SOCKS4 and SOCKS4a requests', () => {
    fc.assert(
      fc.property(fc.oneof(hostname, ipv4), port, fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')), (h, p, user) => {
        const result = decodeSocks4Request(encodeSocks4Request({ command: 1, host: h, port: p, userId: user }));
        if (result.status !== 'done') throw new Error(JSON.stringify(result));
        expect(result.message.port).toBe(p);
        expect(Buffer.from(result.message.userId).toString('utf8')).toBe(user.replace(/[\ud800-\udfff]/g, '\ufffd'));
        // A name that happens to be an IPv4 literal travels as SOCKS4; 0.0.0.x literals then read as the 4a marker.
        if (!/^0\.0\.0\.[1-9]/.test(h)) expect(result.message.host).toBe(h);
      }),
    );
  });

  it('greetings, credentials and UDP datagrams', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 255 }),
        fc.uint8Array({ minLength: 1, maxLength: 255 }),
        fc.uint8Array({ maxLength: 255 }),
        host,
        port,
        fc.uint8Array({ maxLength: 1500 }),
        (methods, user, pass, h, p, data) => {
          expect(decodeSocks5Greeting(encodeSocks5Greeting(methods))).toMatchObject({ message: { methods } });
          expect(decodeUserPassRequest(encodeUserPassRequest(user, pass))).toMatchObject({
            message: { username: user, password: pass },
          });
          expect(decodeUdpDatagram(encodeUdpDatagram({ host: h, port: p, data }))).toMatchObject({
            message: { frag: 0, host: h, port: p, data },
          });
        },
      ),
    );
  });

  it('IPv6 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(Array.from(parseIPv6(formatIPv6(bytes))!)).toEqual(Array.from(bytes));
      }),
    );
  });
});
