import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_V2_PAYLOAD, ProxyHeaderParser, ProxyProtocolError, type ProxyParseResult } from '../../../shared/net/proxy-protocol.ts';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const v2 = (verCmd: number, fam: number, body: number[]) => Uint8Array.from([...SIG, verCmd, fam, body.length >> 8, body.length & 0xff, ...body]);

/** Feeds `bytes` in the given chunk sizes (one byte at a time by default); the result of the push that finished. */
function feed(bytes: Uint8Array, sizes: number[] = []): ProxyParseResult {
  const p = new ProxyHeaderParser();
  let at = 0;
  let i = 0;
  let last: ProxyParseResult = { done: false };
  while (at < bytes.length) {
    const n = Math.max(1, sizes[i++ % Math.max(1, sizes.length)] ?? 1);
    last = p.push(bytes.subarray(at, at + n));
    at += n;
    if (last.done) {
      // What came with the header's last chunk is the connection's; hand back the rest as well.
      return { ...last, rest: Uint8Array.from([...last.rest, ...bytes.subarray(at)]) };
    }
  }
  return last;
}

const codeOf = (bytes: Uint8Array) => {
  try {
    feed(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ProxyProtocolError);
    return (e as ProxyProtocolError).code;
  }
  return 'no error';
};

const V2_TCP4 = v2(0x21, 0x11, [203, 0, 113, 7, 127, 0, 0, 1, 0xd4, 0x31, 0x1f, 0x90]);

describe('PROXY protocol header parser', () => {
  it('v1 TCP4, TCP6 and UNKNOWN, byte by byte, with the bytes after the header left for the connection', () => {
    expect(feed(ascii('PROXY TCP4 203.0.113.7 127.0.0.1 54321 8080\r\nGET / HTTP/1.1\r\n'))).toEqual({
      done: true,
      header: { version: 1, command: 'proxy', source: { address: '203.0.113.7', port: 54321 }, destination: { address: '127.0.0.1', port: 8080 } },
      rest: ascii('GET / HTTP/1.1\r\n'),
    });
    const six = feed(ascii('PROXY TCP6 2001:DB8::0:1 ::ffff:10.0.0.1 1 65535\r\n'));
    expect(six).toMatchObject({ done: true, header: { source: { address: '2001:db8::1', port: 1 }, destination: { port: 65535 } }, rest: new Uint8Array(0) });
    expect(feed(ascii('PROXY UNKNOWN ffff::1 ::1 1 2\r\nx'))).toEqual({ done: true, header: { version: 1, command: 'proxy' }, rest: ascii('x') });
  });

  it('v2 PROXY over IPv4 and IPv6 (TLVs skipped), LOCAL and UNSPEC', () => {
    expect(feed(Uint8Array.from([...V2_TCP4, 0x47]))).toEqual({
      done: true,
      header: { version: 2, command: 'proxy', source: { address: '203.0.113.7', port: 54321 }, destination: { address: '127.0.0.1', port: 8080 } },
      rest: Uint8Array.from([0x47]),
    });
    const src6 = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 0x05];
    const dst6 = [...Array(15).fill(0), 1];
    const tlv = [0x04, 0x00, 0x03, 0, 0, 0]; // PP2_TYPE_NOOP, 3 bytes
    expect(feed(v2(0x21, 0x21, [...src6, ...dst6, 0x01, 0xbb, 0x00, 0x50, ...tlv]))).toMatchObject({
      done: true,
      header: { source: { address: '2001:db8::5', port: 443 }, destination: { address: '::1', port: 80 } },
    });
    expect(feed(v2(0x20, 0x00, []))).toEqual({ done: true, header: { version: 2, command: 'local' }, rest: new Uint8Array(0) });
    expect(feed(v2(0x21, 0x00, []))).toEqual({ done: true, header: { version: 2, command: 'proxy' }, rest: new Uint8Array(0) });
  });

  it('gives the same answer however the bytes are split', () => {
    const inputs = [V2_TCP4, ascii('PROXY TCP4 203.0.113.7 127.0.0.1 54321 8080\r\n')];
    fc.assert(
      fc.property(fc.constantFrom(...inputs), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }), fc.uint8Array({ maxLength: 20 }), (header, sizes, tail) => {
        const r = feed(Uint8Array.from([...header, ...tail]), sizes);
        expect(r).toMatchObject({ done: true, header: { source: { address: '203.0.113.7', port: 54321 } } });
        expect(r.done && Buffer.from(r.rest).equals(Buffer.from(tail))).toBe(true);
      }),
    );
  });

  it('refuses what is not a header at the first byte that shows it, with a coded error', () => {
    expect(codeOf(ascii('GET / HTTP/1.1\r\n'))).toBe('ERR_PROXY_HEADER_MISSING');
    expect(codeOf(ascii('PROXZ'))).toBe('ERR_PROXY_HEADER_MISSING');
    expect(codeOf(Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01]))).toBe('ERR_PROXY_HEADER_MISSING');
    // A prefix that could still become a header waits for more.
    expect(new ProxyHeaderParser().push(ascii('PROX'))).toEqual({ done: false });
  });

  it('refuses bad v1 headers: addresses, ports, families, line ends, length', () => {
    const bad = [
      'PROXY TCP4 010.0.0.1 127.0.0.1 1 2\r\n',
      'PROXY TCP4 127.1 127.0.0.1 1 2\r\n',
      'PROXY TCP4 ::1 127.0.0.1 1 2\r\n',
      'PROXY TCP6 127.0.0.1 ::1 1 2\r\n',
      'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n',
      'PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n',
    ];
    for (const b of bad) expect(codeOf(ascii(b)), JSON.stringify(b)).toBe('ERR_PROXY_HEADER_BAD');
    expect(codeOf(ascii(`PROXY ${'A'.repeat(200)}`))).toBe('ERR_PROXY_HEADER_TOO_LONG');
    expect(codeOf(ascii(`PROXY TCP4 ${'1'.repeat(100)}\r\n`))).toBe('ERR_PROXY_HEADER_TOO_LONG');
  });

  it('refuses bad v2 headers: version, command, family, short addresses, length over the bound', () => {
    expect(codeOf(v2(0x11, 0x11, Array(12).fill(0)))).toBe('ERR_PROXY_HEADER_BAD');
    expect(codeOf(v2(0x22, 0x11, Array(12).fill(0)))).toBe('ERR_PROXY_HEADER_BAD');
    expect(codeOf(v2(0x21, 0x12, Array(12).fill(0)))).toBe('ERR_PROXY_HEADER_BAD'); // UDP
    expect(codeOf(v2(0x21, 0x31, Array(216).fill(0)))).toBe('ERR_PROXY_HEADER_BAD'); // unix
    expect(codeOf(v2(0x21, 0x11, Array(11).fill(0)))).toBe('ERR_PROXY_HEADER_BAD');
    expect(codeOf(v2(0x21, 0x21, Array(35).fill(0)))).toBe('ERR_PROXY_HEADER_BAD');
    // The length is judged from the 16-byte prefix, before the body is waited for.
    const p = new ProxyHeaderParser();
    const n = MAX_V2_PAYLOAD + 1;
    expect(() => p.push(Uint8Array.from([...SIG, 0x21, 0x11, n >> 8, n & 0xff]))).toThrow(expect.objectContaining({ code: 'ERR_PROXY_HEADER_TOO_LONG' }));
  });
});
