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
  encodeSocks4Reply,
  encodeSocks4Request,
  encodeSocks5Greeting,
  encodeSocks5MethodSelection,
  encodeSocks5Reply,
  encodeSocks5Request,
  encodeUdpDatagram,
  encodeUserPassReply,
  encodeUserPassRequest,
  fromHex,
  toHex,
  type Field,
} from '../../../shared/socks/index.ts';
import { decodeThreeWays, expectDone, expectError } from './feed.ts';

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const brief = (fields: Field[]) => fields.map((f) => [f.label, f.offset, f.length, f.hex, f.value, f.meaning]);

/** Every byte of a message belongs to exactly one field, in order. */
function expectCovers(fields: Field[], length: number) {
  let at = 0;
  for (const f of fields) {
    expect(f.offset).toBe(at);
    at += f.length;
  }
  expect(at).toBe(length);
}

describe('SOCKS4 (NEC document)', () => {
  // "VN=4, CD=1, DSTPORT, DSTIP, USERID, NULL": CONNECT to 127.0.0.1:80 as user "fred".
  const connect = fromHex('04 01 00 50 7f 00 00 01 66 72 65 64 00');

  it('decodes a CONNECT request field by field', () => {
    const { message, length, fields } = expectDone(decodeThreeWays(decodeSocks4Request, connect));
    expect(length).toBe(13);
    expect(message).toEqual({ version: 4, command: 1, port: 80, host: '127.0.0.1', socks4a: false, userId: ascii('fred') });
    expect(brief(fields)).toEqual([
      ['VN', 0, 1, '04', 4, 'SOCKS version 4'],
      ['CD', 1, 1, '01', 1, 'CONNECT'],
      ['DSTPORT', 2, 2, '00 50', 80, 'destination port: 80'],
      ['DSTIP', 4, 4, '7f 00 00 01', '127.0.0.1', 'destination the proxy connects to'],
      ['USERID', 8, 4, '66 72 65 64', 'fred', 'user id'],
      ['NUL', 12, 1, '00', 0, 'end of field'],
    ]);
    expectCovers(fields, length);
    expect(toHex(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: 80, userId: 'fred' }))).toBe(toHex(connect));
  });

  it('decodes a BIND request with an empty user id', () => {
    const bind = fromHex('04 02 1f 90 0a 00 00 05 00');
    const { message } = expectDone(decodeThreeWays(decodeSocks4Request, bind));
    expect(message).toMatchObject({ command: 2, port: 8080, host: '10.0.0.5', userId: new Uint8Array() });
  });

  it('decodes replies: granted (0x5A) and rejected (0x5B)', () => {
    const granted = fromHex('00 5a 04 38 c0 a8 01 02');
    const { message, fields } = expectDone(decodeThreeWays(decodeSocks4Reply, granted));
    expect(message).toEqual({ code: 0x5a, port: 1080, host: '192.168.1.2' });
    expect(fields[1]).toMatchObject({ label: 'CD', value: 0x5a, meaning: 'request granted' });
    expect(toHex(encodeSocks4Reply({ code: 0x5a, host: '192.168.1.2', port: 1080 }))).toBe(toHex(granted));
    const rejected = expectDone(decodeSocks4Reply(encodeSocks4Reply({ code: 0x5b })));
    expect(rejected.fields[1]!.meaning).toBe('request rejected or failed');
  });

  it('rejects a reply whose VN is neither 0 nor 4', () => {
    expectError(decodeThreeWays(decodeSocks4Reply, fromHex('05 5a 00 00 00 00 00 00')), 'ERR_SOCKS_BAD_VERSION');
  });

  it('bounds the NUL-terminated user id', () => {
    const long = Uint8Array.from([4, 1, 0, 80, 127, 0, 0, 1, ...new Array(256).fill(0x61)]);
    expectError(decodeSocks4Request(long), 'ERR_SOCKS_FIELD_TOO_LONG');
    // 255 bytes without the NUL yet is still a message in progress.
    expect(decodeSocks4Request(long.subarray(0, 8 + 255))).toMatchObject({ status: 'need', need: 1 });
  });
});

describe('SOCKS4a (NEC document)', () => {
  // DSTIP 0.0.0.1, then USERID, NUL, then the host name and NUL.
  const request = fromHex('04 01 00 50 00 00 00 01 00') ;
  const withName = Uint8Array.from([...request, ...ascii('example.com'), 0]);

  it('decodes the 0.0.0.x marker and the host name after the user id', () => {
    const { message, fields, length } = expectDone(decodeThreeWays(decodeSocks4Request, withName));
    expect(message).toEqual({ version: 4, command: 1, port: 80, host: 'example.com', socks4a: true, userId: new Uint8Array() });
    expect(fields.map((f) => f.label)).toEqual(['VN', 'CD', 'DSTPORT', 'DSTIP', 'USERID', 'NUL', 'HOST', 'NUL']);
    expect(fields[3]!.meaning).toMatch(/SOCKS4a marker/);
    expect(fields[6]).toMatchObject({ value: 'example.com', spec: 'SOCKS4a (NEC)' });
    expectCovers(fields, length);
    expect(toHex(encodeSocks4Request({ command: 1, host: 'example.com', port: 80 }))).toBe(toHex(withName));
  });

  it('treats 0.0.0.0 as a plain SOCKS4 address, not a 4a marker', () => {
    const { message } = expectDone(decodeSocks4Request(fromHex('04 01 00 50 00 00 00 00 00')));
    expect(message.socks4a).toBe(false);
    expect(message.host).toBe('0.0.0.0');
  });

  it('rejects an empty host name', () => {
    expectError(decodeThreeWays(decodeSocks4Request, fromHex('04 01 00 50 00 00 00 01 00 00')), 'ERR_SOCKS_BAD_HOSTNAME');
  });
});

describe('SOCKS5 greeting and method selection (RFC 1928 §3)', () => {
  it('decodes a greeting offering no-auth and username/password', () => {
    const greeting = fromHex('05 02 00 02');
    const { message, fields } = expectDone(decodeThreeWays(decodeSocks5Greeting, greeting));
    expect(message.methods).toEqual([0, 2]);
    expect(brief(fields)).toEqual([
      ['VER', 0, 1, '05', 5, 'SOCKS version 5'],
      ['NMETHODS', 1, 1, '02', 2, '2 methods offered'],
      ['METHOD', 2, 1, '00', 0, 'no authentication required'],
      ['METHOD', 3, 1, '02', 2, 'username/password'],
    ]);
    expect(fields[0]!.name).toBe('socks.version');
    expect(toHex(encodeSocks5Greeting([0, 2]))).toBe('05 02 00 02');
  });

  it('refuses NMETHODS = 0 and a wrong version', () => {
    expectError(decodeThreeWays(decodeSocks5Greeting, fromHex('05 00')), 'ERR_SOCKS_NO_METHODS');
    expectError(decodeThreeWays(decodeSocks5Greeting, fromHex('04 01 00')), 'ERR_SOCKS_BAD_VERSION');
  });

  it('decodes a method selection, including 0xFF', () => {
    expect(expectDone(decodeThreeWays(decodeSocks5MethodSelection, fromHex('05 02'))).message.method).toBe(2);
    const none = expectDone(decodeSocks5MethodSelection(encodeSocks5MethodSelection(0xff)));
    expect(none.fields[1]!.meaning).toMatch(/no acceptable methods/);
  });
});

describe('username/password (RFC 1929)', () => {
  const request = fromHex('01 05 61 6c 69 63 65 06 73 65 63 72 65 74'); // alice / secret

  it('decodes a request and masks the password on request', () => {
    const { message, fields } = expectDone(decodeThreeWays(decodeUserPassRequest, request));
    expect(message).toEqual({ username: ascii('alice'), password: ascii('secret') });
    expect(fields.map((f) => [f.label, f.value])).toEqual([
      ['VER', 1],
      ['ULEN', 5],
      ['UNAME', 'alice'],
      ['PLEN', 6],
      ['PASSWD', 'secret'],
    ]);
    const masked = expectDone(decodeUserPassRequest(request, true));
    expect(masked.fields[4]).toMatchObject({ value: '(masked, 6 bytes)', hex: '** ** ** ** ** **', masked: true });
    expect(toHex(encodeUserPassRequest('alice', 'secret'))).toBe(toHex(request));
  });

  it('encodes UTF-8 credentials as octets', () => {
    expect(toHex(encodeUserPassRequest('é', ''))).toBe('01 02 c3 a9 00');
  });

  it('decodes success and failure replies', () => {
    expect(expectDone(decodeThreeWays(decodeUserPassReply, encodeUserPassReply(true))).message.status).toBe(0);
    const failure = expectDone(decodeUserPassReply(encodeUserPassReply(false)));
    expect(failure.message.status).toBe(1);
    expect(failure.fields[1]!.meaning).toMatch(/failure/);
    expectError(decodeUserPassReply(fromHex('05 00')), 'ERR_SOCKS_BAD_VERSION');
  });
});

describe('SOCKS5 request and reply (RFC 1928 §4-§6)', () => {
  it('decodes CONNECT to an IPv4 address', () => {
    const bytes = fromHex('05 01 00 01 7f 00 00 01 1f 90');
    const { message, fields } = expectDone(decodeThreeWays(decodeSocks5Request, bytes));
    expect(message).toEqual({ version: 5, command: 1, addressType: 1, host: '127.0.0.1', port: 8080 });
    expect(brief(fields)).toEqual([
      ['VER', 0, 1, '05', 5, 'SOCKS version 5'],
      ['CMD', 1, 1, '01', 1, 'CONNECT'],
      ['RSV', 2, 1, '00', 0, 'reserved'],
      ['ATYP', 3, 1, '01', 1, 'IPv4 address'],
      ['DST.ADDR', 4, 4, '7f 00 00 01', '127.0.0.1', 'destination the proxy connects to'],
      ['DST.PORT', 8, 2, '1f 90', 8080, 'destination port: 8080'],
    ]);
    expect(toHex(encodeSocks5Request({ command: 1, host: '127.0.0.1', port: 8080 }))).toBe(toHex(bytes));
  });

  it('decodes CONNECT to a domain name', () => {
    const bytes = Uint8Array.from([5, 1, 0, 3, 11, ...ascii('example.com'), 0, 80]);
    const { message, fields, length } = expectDone(decodeThreeWays(decodeSocks5Request, bytes));
    expect(message).toMatchObject({ addressType: 3, host: 'example.com', port: 80 });
    expect(fields.map((f) => f.name)).toContain('socks.remote_name');
    expectCovers(fields, length);
    expect(toHex(encodeSocks5Request({ command: 1, host: 'example.com', port: 80 }))).toBe(toHex(bytes));
  });

  it('decodes UDP ASSOCIATE from an IPv6 address in RFC 5952 form', () => {
    const bytes = fromHex('05 03 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 35');
    const { message } = expectDone(decodeThreeWays(decodeSocks5Request, bytes));
    expect(message).toMatchObject({ command: 3, addressType: 4, host: '2001:db8::1', port: 53 });
    expect(toHex(encodeSocks5Request({ command: 3, host: '[2001:db8::1]', port: 53 }))).toBe(toHex(bytes));
  });

  it('keeps an unknown command for the server to answer 0x07', () => {
    const { message, fields } = expectDone(decodeSocks5Request(fromHex('05 09 00 01 01 02 03 04 00 50')));
    expect(message.command).toBe(9);
    expect(fields[1]!.meaning).toBe('unknown command');
  });

  it('fails on an unknown ATYP with reply code 0x08', () => {
    const result = decodeThreeWays(decodeSocks5Request, fromHex('05 01 00 07 00 00'));
    expectError(result, 'ERR_SOCKS_BAD_ATYP');
    expect(result.status === 'error' && result.error.replyCode).toBe(8);
    expect(result.status === 'error' && result.error.offset).toBe(3);
  });

  it('fails on a zero-length or non-ASCII domain name', () => {
    expectError(decodeThreeWays(decodeSocks5Request, fromHex('05 01 00 03 00 00 50')), 'ERR_SOCKS_BAD_HOSTNAME');
    expectError(decodeThreeWays(decodeSocks5Request, fromHex('05 01 00 03 02 61 0a 00 50')), 'ERR_SOCKS_BAD_HOSTNAME');
  });

  it('decodes a refused reply and explains it', () => {
    const bytes = encodeSocks5Reply({ reply: 5 });
    expect(toHex(bytes)).toBe('05 05 00 01 00 00 00 00 00 00');
    const { fields } = expectDone(decodeThreeWays(decodeSocks5Reply, bytes));
    expect(fields[1]).toMatchObject({ label: 'REP', name: 'socks.results', value: 5, meaning: 'connection refused' });
    expect(fields[4]).toMatchObject({ label: 'BND.ADDR', value: '0.0.0.0' });
  });

  it('decodes a success reply bound to an IPv6 address', () => {
    const bytes = encodeSocks5Reply({ reply: 0, host: '::1', port: 40000 });
    const { message } = expectDone(decodeThreeWays(decodeSocks5Reply, bytes));
    expect(message).toEqual({ reply: 0, addressType: 4, host: '::1', port: 40000 });
  });

  it('refuses to encode what SOCKS cannot carry', () => {
    expect(() => encodeSocks5Request({ command: 1, host: 'a'.repeat(256), port: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_SOCKS_BAD_HOSTNAME' }),
    );
    expect(() => encodeSocks5Request({ command: 1, host: 'x', port: 65536 })).toThrow(
      expect.objectContaining({ code: 'ERR_SOCKS_BAD_PORT' }),
    );
    expect(() => encodeSocks4Reply({ code: 0x5a, host: '::1' })).toThrow(
      expect.objectContaining({ code: 'ERR_SOCKS_BAD_ADDRESS' }),
    );
  });
});

describe('UDP request header (RFC 1928 §7)', () => {
  it('decodes RSV, FRAG, address and data', () => {
    const bytes = fromHex('00 00 00 01 7f 00 00 01 00 35 68 69');
    const { message, fields } = expectDone(decodeThreeWays(decodeUdpDatagram, bytes, false));
    expect(message).toEqual({ frag: 0, addressType: 1, host: '127.0.0.1', port: 53, data: ascii('hi') });
    expect(fields.map((f) => f.label)).toEqual(['RSV', 'FRAG', 'ATYP', 'DST.ADDR', 'DST.PORT', 'DATA']);
    expect(fields[5]!.meaning).toBe('2 bytes of user data');
    expect(toHex(encodeUdpDatagram({ host: '127.0.0.1', port: 53, data: ascii('hi') }))).toBe(toHex(bytes));
  });

  it('reports the fragment number', () => {
    const { message, fields } = expectDone(decodeUdpDatagram(encodeUdpDatagram({ host: 'h', port: 1, data: new Uint8Array(), frag: 0x81 })));
    expect(message.frag).toBe(0x81);
    expect(fields[1]!.meaning).toBe('fragment 1 (last)');
  });
});
