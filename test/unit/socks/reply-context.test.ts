/**
 * Every reply's words, per the request it answers: CONNECT, BIND's first and second reply, UDP ASSOCIATE, SOCKS4 and
 * 4a (identd codes included), and the RFC 1929 status. Each message is fed one byte at a time: every prefix asks for
 * more, the whole decodes.
 */
import { describe, expect, it } from 'vitest';
import {
  ClientHandshake,
  Command,
  decodeSocks4Reply,
  decodeSocks5Reply,
  decodeUserPassReply,
  encodeSocks4Reply,
  encodeSocks5Reply,
  fromHex,
  socks5ReplyText,
  type ClientHandshakeOptions,
  type DecodeResult,
  type Field,
  type ReplyContext,
} from '../../../shared/socks/index.ts';

/** Decodes `bytes` growing one byte at a time: `need` for every proper prefix, then the fields of the whole. */
function byteByByte<T>(decode: (b: Uint8Array) => DecodeResult<T>, bytes: Uint8Array): Field[] {
  for (let i = 0; i < bytes.length; i++) expect(decode(bytes.subarray(0, i)).status).toBe('need');
  const done = decode(bytes);
  if (done.status !== 'done') throw new Error(`expected a decoded message, got ${done.status}`);
  expect(done.length).toBe(bytes.length);
  return done.fields;
}

const meaning = (fields: Field[], label: string) => fields.find((f) => f.label === label)?.meaning;

const CONNECT: ReplyContext = { command: Command.CONNECT };
const BIND_1: ReplyContext = { command: Command.BIND, bindReply: 1 };
const BIND_2: ReplyContext = { command: Command.BIND, bindReply: 2 };
const UDP: ReplyContext = { command: Command.UDP_ASSOCIATE };

describe('SOCKS5 reply words per request (RFC 1928 §6)', () => {
  const ok = encodeSocks5Reply({ reply: 0, host: '192.0.2.7', port: 4000 });
  it.each([
    ['CONNECT', CONNECT, /proxy connected to the destination/, "the proxy's own address on its connection to the destination", "the proxy's own port on its connection to the destination: 4000"],
    ['BIND first', BIND_1, /proxy listens for the peer \(the first of two replies\)/, 'where the proxy listens: tell the peer to connect to this address', 'where the proxy listens: tell the peer to connect to this port: 4000'],
    ['BIND second', BIND_2, /the expected peer connected/, 'address of the peer that connected', 'port of the peer that connected: 4000'],
    ['UDP ASSOCIATE', UDP, /the relay is ready; the association lives as long as this TCP connection/, 'the relay: send datagrams (each with the RFC 1928 §7 header) to this address', 'the relay: send datagrams to this port: 4000'],
  ])('success, %s', (_name, context, rep, addr, port) => {
    const fields = byteByByte((b) => decodeSocks5Reply(b, context), ok);
    expect(meaning(fields, 'REP')).toMatch(rep);
    expect(meaning(fields, 'BND.ADDR')).toBe(addr);
    expect(meaning(fields, 'BND.PORT')).toBe(port);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('failure 0x0%i: the code in words, the rule, and BND not meaningful', (code) => {
    for (const context of [CONNECT, BIND_1, UDP]) {
      const fields = byteByByte((b) => decodeSocks5Reply(b, context), encodeSocks5Reply({ reply: code }));
      expect(meaning(fields, 'REP')).toBe(`${socks5ReplyText(code)}: the request failed; the server closes the connection`);
      expect(meaning(fields, 'BND.ADDR')).toMatch(/^not meaningful in a failure reply/);
    }
    const second = byteByByte((b) => decodeSocks5Reply(b, BIND_2), encodeSocks5Reply({ reply: code }));
    expect(meaning(second, 'REP')).toBe(`${socks5ReplyText(code)}: the incoming connection failed; the server closes`);
  });

  it('a bound domain name and IPv6 address are worded by the same context', () => {
    const name = byteByByte((b) => decodeSocks5Reply(b, UDP), encodeSocks5Reply({ reply: 0, host: 'relay.example', port: 9 }));
    expect(meaning(name, 'BND.ADDR')).toBe('the relay: send datagrams (each with the RFC 1928 §7 header) to this address (a name)');
    const v6 = byteByByte((b) => decodeSocks5Reply(b, BIND_1), encodeSocks5Reply({ reply: 0, host: '::', port: 9 }));
    expect(meaning(v6, 'BND.ADDR')).toBe('where the proxy listens: tell the peer to connect to this address (unspecified: ::)');
  });
});

describe('SOCKS4 / 4a reply words per request (NEC documents)', () => {
  const reply = (code: number) => encodeSocks4Reply({ code, host: '198.51.100.2', port: 5000 });
  it('CONNECT granted: DSTPORT and DSTIP are ignored', () => {
    const fields = byteByByte((b) => decodeSocks4Reply(b, CONNECT), reply(0x5a));
    expect(meaning(fields, 'CD')).toBe('request granted: the proxy connected to the destination');
    expect(meaning(fields, 'DSTIP')).toBe('ignored in a reply to CONNECT (the document says so)');
  });
  it('BIND first and second reply', () => {
    const first = byteByByte((b) => decodeSocks4Reply(b, BIND_1), reply(0x5a));
    expect(meaning(first, 'CD')).toMatch(/proxy listens for the peer/);
    expect(meaning(first, 'DSTIP')).toBe('where the proxy listens: tell the peer to connect to this address');
    expect(meaning(first, 'DSTPORT')).toBe('where the proxy listens: tell the peer to connect to this port: 5000');
    const second = byteByByte((b) => decodeSocks4Reply(b, BIND_2), reply(0x5a));
    expect(meaning(second, 'CD')).toBe('request granted: the expected peer connected');
    expect(meaning(second, 'DSTIP')).toBe('address of the peer that connected');
  });
  it.each([
    [0x5b, 'request rejected or failed'],
    [0x5c, 'rejected: the SOCKS server could not reach identd (RFC 1413) on the client to check the user id'],
    [0x5d, 'rejected: identd on the client names a different user than USERID'],
  ])('CD 0x%s in words', (code, text) => {
    for (const context of [CONNECT, BIND_1, BIND_2]) {
      const fields = byteByByte((b) => decodeSocks4Reply(b, context), reply(code));
      expect(meaning(fields, 'CD')).toBe(text);
      expect(meaning(fields, 'DSTIP')).toMatch(/^not meaningful in a failure reply/);
    }
  });
});

describe('RFC 1929 status', () => {
  it.each([
    ['01 00', 'success: the client may send its request'],
    ['01 01', 'failure (0x01): any value but 0x00 is a failure, and the server must close the connection'],
    ['01 ff', 'failure (0xff): any value but 0x00 is a failure, and the server must close the connection'],
  ])('%s', (hex, text) => {
    const fields = byteByByte(decodeUserPassReply, fromHex(hex));
    expect(fields.map((f) => [f.name, f.label])).toEqual([
      ['socks.subnegotiation_version', 'VER'],
      ['socks.auth_status', 'STATUS'],
    ]);
    expect(meaning(fields, 'STATUS')).toBe(text);
  });
});

describe('ClientHandshake threads the command context into the replies it reads', () => {
  /** Runs the handshake, feeding `replies` one byte at a time; returns the fields of every message read. */
  function replies(options: ClientHandshakeOptions, hex: string): Array<{ kind: string; fields: Field[] }> {
    const hs = new ClientHandshake(options);
    hs.start();
    const read: Array<{ kind: string; fields: Field[] }> = [];
    for (const b of fromHex(hex)) {
      for (const step of hs.receive(Uint8Array.of(b))) if (step.type === 'read') read.push({ kind: step.message.kind, fields: step.message.fields });
    }
    return read;
  }

  it('SOCKS5 BIND: first reply = where the proxy listens, second = the peer', () => {
    const read = replies({ type: 'socks5', host: '0.0.0.0', port: 0, command: Command.BIND }, '05 00  05 00 00 01 7f 00 00 01 13 88  05 00 00 01 c0 00 02 09 ab cd');
    expect(read.map((r) => r.kind)).toEqual(['socks5.method', 'socks5.reply', 'socks5.reply']);
    expect(meaning(read[1]!.fields, 'BND.ADDR')).toBe('where the proxy listens: tell the peer to connect to this address');
    expect(meaning(read[2]!.fields, 'BND.ADDR')).toBe('address of the peer that connected');
  });

  it('SOCKS5 UDP ASSOCIATE: BND is the relay', () => {
    const read = replies({ type: 'socks5', host: '0.0.0.0', port: 0, command: Command.UDP_ASSOCIATE }, '05 00  05 00 00 01 7f 00 00 01 13 88');
    expect(meaning(read[1]!.fields, 'BND.PORT')).toBe('the relay: send datagrams to this port: 5000');
  });

  it('SOCKS4 BIND: both replies', () => {
    const read = replies({ type: 'socks4', host: '10.0.0.1', port: 0, command: Command.BIND }, '00 5a 13 88 7f 00 00 01  00 5a ab cd 0a 00 00 01');
    expect(read.map((r) => meaning(r.fields, 'DSTIP'))).toEqual([
      'where the proxy listens: tell the peer to connect to this address',
      'address of the peer that connected',
    ]);
  });

  it('SOCKS4a CONNECT rejected for identd', () => {
    const read = replies({ type: 'socks4a', host: 'example.com', port: 80, username: 'bob' }, '00 5d 00 00 00 00 00 00');
    expect(meaning(read[0]!.fields, 'CD')).toBe('rejected: identd on the client names a different user than USERID');
  });

  it('a wrong password: the STATUS byte is read and shown before the failure', () => {
    const hs = new ClientHandshake({ type: 'socks5', host: 'example.com', port: 80, username: 'u', password: 'bad', maskPassword: true });
    hs.start();
    const steps = [...fromHex('05 02 01 01')].flatMap((b) => hs.receive(Uint8Array.of(b)));
    const read = steps.find((s) => s.type === 'read' && s.message.kind === 'socks5.auth-reply');
    expect(read?.type === 'read' && read.message.hex).toBe('01 01');
    expect(read?.type === 'read' && meaning(read.message.fields, 'STATUS')).toMatch(/server must close/);
    expect(steps.at(-1)).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_AUTH_FAILED' } });
  });
});
