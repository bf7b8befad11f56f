import { describe, expect, it } from 'vitest';
import {
  encodeIdentQuery,
  IdentError,
  IdentReplyParser,
  MAX_IDENT_LINE,
  type IdentParseResult,
  type IdentReply,
} from '../../../shared/ident/index.ts';

const PORTS = { identdSide: 6191, querySide: 23 };
const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

/** Parses `text` three ways (whole, a byte at a time, with bytes after the line) and checks they agree. */
function parse(text: string | Uint8Array, ports = PORTS): IdentReply {
  const b = typeof text === 'string' ? bytes(text) : text;
  const whole = new IdentReplyParser(ports).push(b);
  const bytewise = new IdentReplyParser(ports);
  let last: IdentParseResult = { done: false };
  for (let i = 0; i < b.length && !last.done; i++) last = bytewise.push(b.subarray(i, i + 1));
  const trailing = new IdentReplyParser(ports).push(Uint8Array.from([...b, ...bytes('junk\r\nmore')]));
  expect(last).toEqual(whole);
  expect(trailing).toEqual(whole);
  if (!whole.done) throw new Error('expected a whole reply');
  return whole.reply;
}

function parseError(text: string | Uint8Array, ports = PORTS): IdentError {
  const b = typeof text === 'string' ? bytes(text) : text;
  const errors: unknown[] = [];
  for (const chunking of [b.length || 1, 1, 7]) {
    const p = new IdentReplyParser(ports);
    try {
      for (let i = 0; i < b.length; i += chunking) p.push(b.subarray(i, i + chunking));
      errors.push(undefined);
    } catch (err) {
      errors.push(err);
    }
  }
  const [first] = errors;
  expect(first).toBeInstanceOf(IdentError);
  for (const e of errors) expect((e as IdentError | undefined)?.code).toBe((first as IdentError).code);
  return first as IdentError;
}

describe('encodeIdentQuery', () => {
  it('puts the identd side port first, as RFC 1413 §3 shows', () => {
    expect(Buffer.from(encodeIdentQuery(PORTS)).toString('latin1')).toBe('6191 , 23\r\n');
  });
  it('refuses what is not a port', () => {
    expect(() => encodeIdentQuery({ identdSide: 0, querySide: 23 })).toThrow(RangeError);
    expect(() => encodeIdentQuery({ identdSide: 1, querySide: 65536 })).toThrow(RangeError);
  });
});

describe('IdentReplyParser', () => {
  it('reads the RFC 1413 example replies', () => {
    expect(parse('6191, 23 : USERID : UNIX : stjohns\r\n')).toEqual({
      type: 'userid',
      ...PORTS,
      opsys: 'UNIX',
      charset: 'US-ASCII',
      userId: bytes('stjohns'),
    });
    expect(parse('6191, 23 : ERROR : NO-USER\r\n')).toEqual({ type: 'error', ...PORTS, error: 'NO-USER' });
  });

  it("reads oidentd's compact form and odd spacing, tabs and lower case", () => {
    expect(parse('6191,23:USERID:UNIX:root\r\n')).toMatchObject({ opsys: 'UNIX', userId: bytes('root') });
    expect(parse('  6191 \t,\t 23 :\tuserid  :  unix  :  \troot\n')).toMatchObject({ opsys: 'UNIX', userId: bytes('root') });
    expect(parse('6191 , 23 : error :  hidden-user  \r\n')).toEqual({ type: 'error', ...PORTS, error: 'HIDDEN-USER' });
  });

  it('ends the line at LF, CR LF or a lone CR', () => {
    for (const eol of ['\n', '\r\n', '\r', '\r\r\n']) {
      expect(parse(`6191 , 23 : USERID : UNIX : root${eol}`)).toMatchObject({ userId: bytes('root') });
    }
  });

  it('keeps the user id octet for octet: colons, inner and trailing spaces, non-ASCII in the named charset', () => {
    expect(parse('6191 , 23 : USERID : OTHER : a:b c \r\n')).toMatchObject({ opsys: 'OTHER', userId: bytes('a:b c ') });
    const latin1 = Uint8Array.from([...bytes('6191 , 23 : USERID : UNIX , ISO-8859-1 : J'), 0xfc, ...bytes('rgen\r\n')]);
    expect(parse(latin1)).toMatchObject({ charset: 'ISO-8859-1', userId: Uint8Array.from([0x4a, 0xfc, 0x72, 0x67, 0x65, 0x6e]) });
  });

  it('says "not yet" until the end of line', () => {
    const p = new IdentReplyParser(PORTS);
    expect(p.push(bytes('6191 , 23 : USERID : UNIX : ro'))).toEqual({ done: false });
    expect(p.push(bytes('ot\r\n'))).toMatchObject({ done: true, reply: { userId: bytes('root') } });
  });

  it('refuses an over-long line as soon as it passes the bound, without waiting for its end', () => {
    const p = new IdentReplyParser(PORTS);
    expect(p.push(bytes('6191 , 23 : USERID : UNIX : '))).toEqual({ done: false });
    expect(() => p.push(new Uint8Array(MAX_IDENT_LINE).fill(0x61))).toThrow(expect.objectContaining({ code: 'ERR_IDENT_REPLY_TOO_LONG' }));
    // exactly at the bound is still a line
    const atBound = `6191 , 23 : USERID : UNIX : ${'a'.repeat(MAX_IDENT_LINE - 28)}\r\n`;
    expect(parse(atBound)).toMatchObject({ type: 'userid' });
    expect(parseError(`6191 , 23 : USERID : UNIX : ${'a'.repeat(MAX_IDENT_LINE - 27)}\r\n`).code).toBe('ERR_IDENT_REPLY_TOO_LONG');
  });

  it('refuses a reply about other ports', () => {
    const e = parseError('6192 , 23 : USERID : UNIX : root\r\n');
    expect(e.code).toBe('ERR_IDENT_PORT_MISMATCH');
    expect(e.message).toBe('reply for ports 6192 , 23; asked about 6191 , 23');
    expect(parseError('23 , 6191 : USERID : UNIX : root\r\n').code).toBe('ERR_IDENT_PORT_MISMATCH');
  });

  it.each([
    ['no fields', '\r\n'],
    ['garbage', 'HTTP/1.1 400 Bad Request\r\n'],
    ['one port', '6191 : USERID : UNIX : root\r\n'],
    ['three ports', '6191 , 23 , 1 : USERID : UNIX : root\r\n'],
    ['a port that is no number', '6191 , 2x3 : USERID : UNIX : root\r\n'],
    ['port 0', '0 , 23 : USERID : UNIX : root\r\n'],
    ['port 65536', '65536 , 23 : USERID : UNIX : root\r\n'],
    ['an unknown reply type', '6191 , 23 : USERNAME : UNIX : root\r\n'],
    ['USERID without a user id field', '6191 , 23 : USERID : UNIX\r\n'],
    ['an empty user id', '6191 , 23 : USERID : UNIX :   \r\n'],
    ['an empty opsys', '6191 , 23 : USERID :  : root\r\n'],
    ['an empty charset', '6191 , 23 : USERID : UNIX , : root\r\n'],
    ['two charsets', '6191 , 23 : USERID : UNIX , A , B : root\r\n'],
    ['an opsys over 64 characters', `6191 , 23 : USERID : ${'U'.repeat(65)} : root\r\n`],
    ['space inside a token', '6191 , 23 : USERID : UN IX : root\r\n'],
    ['ERROR with an empty type', '6191 , 23 : ERROR : \r\n'],
    ['ERROR with a second field', '6191 , 23 : ERROR : NO-USER : root\r\n'],
    ['a NUL byte', '6191 , 23 : USERID : UNIX : ro\0ot\r\n'],
    ['non-ASCII outside the user id', '6191 , 23 : USERID : UN\xffIX : root\r\n'],
  ])('refuses %s with ERR_IDENT_BAD_REPLY', (_name, text) => {
    expect(parseError(text).code).toBe('ERR_IDENT_BAD_REPLY');
  });
});
