/**
 * The reply of the Identification Protocol (RFC 1413 §3-§6), parsed sans-I/O: push bytes as they arrive until it
 * says `done`. Liberal where RFC 1413 asks for it (white space around tokens, tokens in any case, a line ended by LF,
 * CR LF or a lone CR), strict where a hostile identd could hurt: a line is at most MAX_IDENT_LINE bytes, tokens at
 * most 64 characters, and the reply must name the port pair that was asked about.
 */
import { asciiText } from '../socks/address.ts';
import { IdentError, IdentErrorCode } from './errors.ts';

/** RFC 1413 §6 note 2: a client may give up after 1000 characters without an end of line. */
export const MAX_IDENT_LINE = 1000;
/** RFC 1413 §6 note 3: no token (OPSYS, CHARSET, ERROR-TYPE) is longer than 64 characters. */
export const MAX_IDENT_TOKEN = 64;

export type IdentReply =
  | {
      type: 'userid';
      identdSide: number;
      querySide: number;
      /** Operating system token, e.g. `UNIX`; `OTHER` means the user id is not a login name. */
      opsys: string;
      /** Character set of the user id; `US-ASCII` when the reply names none. */
      charset: string;
      /** The user id octets as sent (in `charset`), without the white space that follows the colon. */
      userId: Uint8Array;
    }
  | {
      type: 'error';
      identdSide: number;
      querySide: number;
      /** `INVALID-PORT`, `NO-USER`, `HIDDEN-USER`, `UNKNOWN-ERROR` or an `X-` extension, as sent (upper-cased). */
      error: string;
    };

export type IdentParseResult = { done: false } | { done: true; reply: IdentReply };

const COLON = 0x3a;
const isSpace = (c: number | undefined) => c === 0x20 || c === 0x09;
const bad = (message: string) => new IdentError(IdentErrorCode.BAD_REPLY, message);

/** Collects one reply line for a query about `expected`; throws an IdentError on the first thing it can judge bad. */
export class IdentReplyParser {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  private finished = false;

  constructor(private readonly expected: { identdSide: number; querySide: number }) {}

  push(chunk: Uint8Array): IdentParseResult {
    if (this.finished) return { done: false };
    let end = -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0x0a || c === 0x0d) {
        end = i;
        break;
      }
      if (c === 0) throw bad('NUL byte in the reply');
    }
    const take = end === -1 ? chunk.length : end;
    if (this.length + take > MAX_IDENT_LINE) {
      throw new IdentError(IdentErrorCode.REPLY_TOO_LONG, `no end of line within ${MAX_IDENT_LINE} bytes`);
    }
    this.parts.push(chunk.subarray(0, take));
    this.length += take;
    if (end === -1) return { done: false };
    this.finished = true;
    const line = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      line.set(p, at);
      at += p.length;
    }
    return { done: true, reply: parseIdentReplyLine(line, this.expected) };
  }
}

/** Parses one reply line (without its end of line) for a query about `expected`. */
export function parseIdentReplyLine(line: Uint8Array, expected: { identdSide: number; querySide: number }): IdentReply {
  // Only the user id may hold colons and non-ASCII octets: split off the three fields before it.
  const colons: number[] = [];
  for (let i = 0; i < line.length && colons.length < 3; i++) if (line[i] === COLON) colons.push(i);
  if (colons.length < 2) throw bad('expected "<port> , <port> : USERID|ERROR : ..."');
  const [c1, c2, c3] = colons as [number, number, number | undefined];
  const pair = field(line, 0, c1).split(',');
  if (pair.length !== 2) throw bad('expected a port pair "<port> , <port>"');
  const identdSide = port(pair[0]!);
  const querySide = port(pair[1]!);
  if (identdSide !== expected.identdSide || querySide !== expected.querySide) {
    throw new IdentError(
      IdentErrorCode.PORT_MISMATCH,
      `reply for ports ${identdSide} , ${querySide}; asked about ${expected.identdSide} , ${expected.querySide}`,
    );
  }
  const type = token(field(line, c1 + 1, c2), 'reply type').toUpperCase();
  if (type === 'ERROR') {
    // The error type runs to the end of the line; a colon in it would not be a token.
    if (c3 !== undefined) throw bad('an ERROR reply has one field after ERROR');
    return { type: 'error', identdSide, querySide, error: token(field(line, c2 + 1, line.length), 'error type').toUpperCase() };
  }
  if (type !== 'USERID') throw bad(`unknown reply type ${JSON.stringify(type)}`);
  if (c3 === undefined) throw bad('a USERID reply has an opsys field and a user id');
  const opsysField = field(line, c2 + 1, c3).split(',');
  if (opsysField.length > 2) throw bad('the opsys field is "<opsys>" or "<opsys> , <charset>"');
  const opsys = token(opsysField[0]!, 'opsys').toUpperCase();
  const charset = opsysField[1] === undefined ? 'US-ASCII' : token(opsysField[1], 'charset');
  // RFC 1413: everything after the colon up to the end of line is the user id. Servers put a space after the colon
  // ("USERID : UNIX : root"), so leading white space is dropped; the rest is kept octet for octet.
  let start = c3 + 1;
  while (isSpace(line[start])) start++;
  if (start === line.length) throw bad('empty user id');
  return { type: 'userid', identdSide, querySide, opsys, charset, userId: line.slice(start) };
}

/** The ASCII text of line[from, to); a non-ASCII octet there is a bad reply (only the user id may carry them). */
function field(line: Uint8Array, from: number, to: number): string {
  const bytes = line.subarray(from, to);
  for (const c of bytes) if (c > 0x7e || (c < 0x20 && c !== 0x09)) throw bad('control or non-ASCII octet outside the user id');
  return asciiText(bytes);
}

function token(text: string, what: string): string {
  const t = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (t === '') throw bad(`empty ${what}`);
  if (t.length > MAX_IDENT_TOKEN) throw bad(`${what} longer than ${MAX_IDENT_TOKEN} characters`);
  if (/[ \t]/.test(t)) throw bad(`white space inside the ${what}`);
  return t;
}

function port(text: string): number {
  const t = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (!/^[0-9]{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) throw bad(`not a port: ${JSON.stringify(t.slice(0, 16))}`);
  return Number(t);
}
