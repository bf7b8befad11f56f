import { describe, expect, it } from 'vitest';
import { analyzeReceived, analyzeSent, parseHex, presets, rejectedByte } from '../../web/src/byte-lab-model.ts';
import { fromHex } from '../../shared/socks/index.ts';

const echo = { host: '127.0.0.1', port: 7007 };
const preset = (id: string) => presets(echo).find((p) => p.id === id)!.bytes;

describe('byte lab model', () => {
  it('reads hex however it is typed', () => {
    expect(parseHex('05 01 00')).toEqual({ bytes: Uint8Array.of(5, 1, 0) });
    expect(parseHex('0x05,0x01\n0x00')).toEqual({ bytes: Uint8Array.of(5, 1, 0) });
    expect(parseHex('\\x05\\x01\\x00')).toEqual({ bytes: Uint8Array.of(5, 1, 0) });
    expect(parseHex('050100')).toEqual({ bytes: Uint8Array.of(5, 1, 0) });
    expect(parseHex('05 zz')).toEqual({ error: 'not a hex byte: "zz"' });
  });

  it('finds the byte the server rejects, as the server reads it', () => {
    expect(rejectedByte(analyzeSent(preset('version'), [0]))).toMatchObject({ code: 'ERR_SOCKS_BAD_VERSION', offset: 0 });
    expect(rejectedByte(analyzeSent(preset('no-methods'), [0]))).toMatchObject({ code: 'ERR_SOCKS_NO_METHODS', offset: 1 });
    // Greeting (3 bytes), then VER CMD RSV ATYP: ATYP is byte 6 of what was sent.
    expect(rejectedByte(analyzeSent(preset('bad-atyp'), [0]))).toMatchObject({ code: 'ERR_SOCKS_BAD_ATYP', offset: 6, replyCode: 8 });
    expect(rejectedByte(analyzeSent(preset('long-name'), [0]))).toMatchObject({ code: 'ERR_SOCKS_FIELD_TOO_LONG', offset: 9, replyCode: 0x5b });
    const truncated = analyzeSent(preset('truncated'), [0]);
    expect(rejectedByte(truncated)).toBeUndefined();
    expect(truncated.messages[0]).toMatchObject({ status: 'need', need: 1 });
    expect(truncated.messages[0]!.fields.map((f) => f.label)).toEqual(['VER', 'NMETHODS', 'METHOD']);
  });

  it('reads a whole exchange: greeting, CONNECT and data; and a wrong password', () => {
    const sent = analyzeSent(preset('connect'), [0]);
    expect(sent.messages.map((m) => [m.title, m.status])).toEqual([
      ['SOCKS5 greeting', 'done'],
      ['SOCKS5 request', 'done'],
      ['bytes after the request (for the destination)', 'data'],
    ]);
    const got = analyzeReceived(fromHex('05 00 05 00 00 01 7f 00 00 01 30 39 68 65 6c 6c 6f 0a'), sent);
    expect(got.map((m) => [m.title, m.status, m.offset])).toEqual([
      ['method selection', 'done', 0],
      ['reply', 'done', 2],
      ['bytes from the destination', 'data', 12],
    ]);
    expect(got[1]!.fields.find((f) => f.label === 'BND.ADDR')?.meaning).toBe("the proxy's own address on its connection to the destination");
    const auth = analyzeSent(preset('wrong-password'), [2]);
    expect(auth.messages.map((m) => m.title)).toEqual(['SOCKS5 greeting', 'username/password request (RFC 1929)']);
    const status = analyzeReceived(fromHex('05 02 01 01'), auth);
    expect(status.at(-1)!.fields.find((f) => f.label === 'STATUS')?.meaning).toMatch(/must close/);
  });

  it('words a SOCKS4 reply and a SOCKS5 failure reply', () => {
    const four = analyzeReceived(fromHex('00 5b 00 00 00 00 00 00'), analyzeSent(preset('long-name'), [0]));
    expect(four[0]!.fields.find((f) => f.label === 'CD')?.meaning).toBe('request rejected or failed');
    const atyp = analyzeReceived(fromHex('05 00 05 08 00 01 00 00 00 00 00 00'), analyzeSent(preset('bad-atyp'), [0]));
    expect(atyp[1]!.fields.find((f) => f.label === 'REP')?.meaning).toMatch(/^address type not supported/);
  });
});
