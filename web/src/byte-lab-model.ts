/**
 * The byte lab's logic, without DOM or I/O: parse typed hex, the prepared messages, and the two analyses. What was
 * sent is read the way our SOCKS server reads it (greeting, RFC 1929 request, request; or a SOCKS4 request), with the
 * same decoders, so the first byte it would reject is found and explained. What came back is read the way a client
 * reads it (method selection, RFC 1929 status, reply worded by the request it answers), with the same codec.
 */
import {
  AuthMethod,
  Command,
  SOCKS4_VERSION,
  SOCKS5_VERSION,
  concatBytes,
  decodeSocks4Reply,
  decodeSocks4Request,
  decodeSocks5Greeting,
  decodeSocks5MethodSelection,
  decodeSocks5Reply,
  decodeSocks5Request,
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeSocks4Request,
  encodeSocks5Greeting,
  encodeSocks5Request,
  encodeUserPassRequest,
  toHex,
  type DecodeResult,
  type Field,
} from '../../shared/socks/index.ts';

/** One message of the lab, decoded as far as its bytes go. */
export interface LabMessage {
  title: string;
  /** Where the message starts in the bytes sent (or received). */
  offset: number;
  /** The message's bytes (as far as they go) as hex. */
  hex: string;
  fields: Field[];
  status: 'done' | 'need' | 'error' | 'data';
  /** `need`: how many more bytes would complete it. */
  need?: number;
  /** `error`: the code, the reason, and the absolute offset of the rejected byte. */
  error?: { code: string; message: string; offset: number; replyCode?: number };
}

/** Reads hex as typed or pasted: spaces, commas, newlines, `0x` prefixes and `\x` escapes are all fine. */
export function parseHex(text: string): { bytes: Uint8Array } | { error: string } {
  const cleaned = text.replace(/0x|\\x/gi, ' ').replace(/[\s,;:]+/g, ' ').trim();
  if (cleaned === '') return { bytes: new Uint8Array(0) };
  const compact = cleaned.split(' ').flatMap((tok) => (tok.length > 2 && tok.length % 2 === 0 ? tok.match(/../g)! : [tok]));
  const bad = compact.find((t) => !/^[0-9a-f]{1,2}$/i.test(t));
  if (bad !== undefined) return { error: `not a hex byte: ${JSON.stringify(bad.slice(0, 20))}` };
  return { bytes: Uint8Array.from(compact, (t) => parseInt(t, 16)) };
}

export interface Preset {
  id: string;
  label: string;
  /** Which demo SOCKS server it is meant for: 0 = no auth, 1 = username/password. */
  server: 0 | 1;
  bytes: Uint8Array;
  /** What to expect, in a sentence. */
  about: string;
}

/** The prepared messages, aimed at the demo's echo target (`echo`: its host and port). */
export function presets(echo: { host: string; port: number }, user: { username: string; password: string } = { username: 'demo', password: 'demo-password' }): Preset[] {
  const greeting = encodeSocks5Greeting([AuthMethod.NO_AUTH]);
  const connect = encodeSocks5Request({ command: Command.CONNECT, host: echo.host, port: echo.port });
  const badAtyp = Uint8Array.from([SOCKS5_VERSION, Command.CONNECT, 0x00, 0x07, 127, 0, 0, 1, echo.port >> 8, echo.port & 0xff]);
  return [
    { id: 'greeting', label: 'valid SOCKS5 greeting', server: 0, bytes: greeting, about: 'The server picks "no authentication" (05 00) and waits for the request.' },
    { id: 'connect', label: 'valid SOCKS5 greeting + CONNECT to the echo target', server: 0, bytes: concatBytes([greeting, connect, new TextEncoder().encode('hello\n')]), about: 'Method selection, then REP 0x00; the bytes after the request reach the echo target and come back.' },
    { id: 'truncated', label: 'truncated greeting (NMETHODS 2, one method)', server: 0, bytes: Uint8Array.from([5, 2, 0]), about: 'The server waits for the missing byte; after our FIN it closes without a word.' },
    { id: 'version', label: 'wrong version (0x06)', server: 0, bytes: Uint8Array.from([6, 1, 0]), about: 'Not SOCKS4 or 5: the server closes at once; SOCKS5 has no reply for this.' },
    { id: 'no-methods', label: 'greeting offering no method (NMETHODS 0)', server: 0, bytes: Uint8Array.from([5, 0]), about: 'A greeting must offer at least one method: the server closes.' },
    { id: 'bad-atyp', label: 'CONNECT with a bad ATYP (0x07)', server: 0, bytes: concatBytes([greeting, badAtyp]), about: 'The server answers REP 0x08 "address type not supported" and closes.' },
    {
      id: 'long-name',
      label: 'SOCKS4a with an over-long host name (300 bytes)',
      server: 0,
      bytes: concatBytes([Uint8Array.from([SOCKS4_VERSION, Command.CONNECT, echo.port >> 8, echo.port & 0xff, 0, 0, 0, 1, 0]), new Uint8Array(300).fill(0x61), Uint8Array.of(0)]),
      about: 'A NUL-terminated field has a limit (255 bytes here): the server answers CD 0x5B and closes.',
    },
    { id: 'socks4', label: 'SOCKS4 CONNECT to the echo target', server: 0, bytes: encodeSocks4Request({ command: Command.CONNECT, host: echo.host, port: echo.port, userId: 'lab' }), about: 'CD 0x5A: granted; DSTPORT and DSTIP of a CONNECT reply are ignored.' },
    {
      id: 'wrong-password',
      label: 'SOCKS5 with a wrong password (server B)',
      server: 1,
      bytes: concatBytes([encodeSocks5Greeting([AuthMethod.USERNAME_PASSWORD]), encodeUserPassRequest(user.username, 'not-the-password')]),
      about: 'The server picks 0x02, reads the password, answers STATUS 0x01 and must close.',
    },
  ];
}

/** A decode result as a lab message starting at `offset` of `bytes`. */
function message<T>(title: string, bytes: Uint8Array, offset: number, r: DecodeResult<T>): LabMessage {
  if (r.status === 'done') return { title, offset, hex: toHex(bytes.subarray(offset, offset + r.length)), fields: r.fields, status: 'done' };
  const hex = toHex(bytes.subarray(offset));
  if (r.status === 'need') return { title, offset, hex, fields: r.fields, status: 'need', need: r.need };
  const e = r.error;
  return {
    title,
    offset,
    hex,
    fields: r.fields,
    status: 'error',
    error: { code: e.code, message: e.message, offset: offset + (e.offset ?? r.fields.reduce((n, f) => Math.max(n, f.offset + f.length), 0)), ...(e.replyCode !== undefined ? { replyCode: e.replyCode } : {}) },
  };
}

function rest(title: string, bytes: Uint8Array, offset: number): LabMessage[] {
  return offset < bytes.length ? [{ title, offset, hex: toHex(bytes.subarray(offset)), fields: [], status: 'data' }] : [];
}

/** What the request sent was (for wording the server's reply), once it decoded. */
export interface SentSummary {
  messages: LabMessage[];
  version?: 4 | 5;
  /** SOCKS5: the method our server would pick for this greeting, given the methods it accepts. */
  method?: number;
  command?: number;
}

/** Reads the bytes sent as our SOCKS server would; `methods` are those it accepts, most preferred first. */
export function analyzeSent(bytes: Uint8Array, methods: readonly number[]): SentSummary {
  if (bytes.length === 0) return { messages: [] };
  const first = bytes[0]!;
  if (first === SOCKS4_VERSION) {
    const r = decodeSocks4Request(bytes);
    const m = message('SOCKS4 request', bytes, 0, r);
    return { version: 4, messages: [m, ...(r.status === 'done' ? rest('bytes after the request (for the destination)', bytes, r.length) : [])], ...(r.status === 'done' ? { command: r.message.command } : {}) };
  }
  if (first !== SOCKS5_VERSION) {
    return {
      messages: [
        {
          title: 'first byte',
          offset: 0,
          hex: toHex(bytes),
          fields: [],
          status: 'error',
          error: { code: 'ERR_SOCKS_BAD_VERSION', message: `unknown SOCKS version 0x${first.toString(16).padStart(2, '0')}: a server reads the first byte to tell SOCKS4 (0x04) from SOCKS5 (0x05)`, offset: 0 },
        },
      ],
    };
  }
  const out: SentSummary = { version: 5, messages: [] };
  let at = 0;
  const g = decodeSocks5Greeting(bytes);
  out.messages.push(message('SOCKS5 greeting', bytes, 0, g));
  if (g.status !== 'done') return out;
  at = g.length;
  out.method = methods.find((m) => g.message.methods.includes(m)) ?? AuthMethod.NO_ACCEPTABLE;
  if (out.method === AuthMethod.NO_ACCEPTABLE) return { ...out, messages: [...out.messages, ...rest('bytes after the greeting (the server closes before reading them)', bytes, at)] };
  if (out.method === AuthMethod.GSSAPI) {
    // RFC 1961 tokens follow; the lab does not read them as the server would.
    return { ...out, messages: [...out.messages, ...rest('bytes after the greeting (the GSS-API sub-negotiation, RFC 1961, not decoded here)', bytes, at)] };
  }
  if (out.method === AuthMethod.USERNAME_PASSWORD) {
    if (at >= bytes.length) return out;
    const a = decodeUserPassRequest(bytes.subarray(at));
    out.messages.push(message('username/password request (RFC 1929)', bytes, at, a));
    if (a.status !== 'done') return out;
    at += a.length;
  }
  if (at >= bytes.length) return out;
  const q = decodeSocks5Request(bytes.subarray(at));
  out.messages.push(message('SOCKS5 request', bytes, at, q));
  if (q.status !== 'done') return out;
  out.command = q.message.command;
  out.messages.push(...rest('bytes after the request (for the destination)', bytes, at + q.length));
  return out;
}

/** Reads what came back as a client would, worded by what was sent. */
export function analyzeReceived(bytes: Uint8Array, sent: SentSummary): LabMessage[] {
  const out: LabMessage[] = [];
  if (bytes.length === 0) return out;
  let at = 0;
  const next = <T>(title: string, r: DecodeResult<T>): r is Extract<DecodeResult<T>, { status: 'done' }> => {
    out.push(message(title, bytes, at, r));
    if (r.status !== 'done') return false;
    at += r.length;
    return true;
  };
  if (sent.version === 4) {
    if (!next('SOCKS4 reply', decodeSocks4Reply(bytes, { command: sent.command ?? Command.CONNECT }))) return out;
    out.push(...rest('bytes from the destination', bytes, at));
    return out;
  }
  const sel = decodeSocks5MethodSelection(bytes);
  if (!next('method selection', sel)) return out;
  if (sel.message.method === AuthMethod.USERNAME_PASSWORD) {
    if (at >= bytes.length) return out;
    const a = decodeUserPassReply(bytes.subarray(at));
    if (!next('username/password status (RFC 1929)', a)) return out;
    if (a.message.status !== 0) return [...out, ...rest('bytes after a failed status (should not be there)', bytes, at)];
  }
  if (sel.message.method === AuthMethod.NO_ACCEPTABLE || at >= bytes.length) return [...out, ...rest('more bytes', bytes, at)];
  if (!next('reply', decodeSocks5Reply(bytes.subarray(at), { command: sent.command ?? Command.CONNECT }))) return out;
  out.push(...rest('bytes from the destination', bytes, at));
  return out;
}

/** The first byte the server would reject in what was sent, or undefined. */
export function rejectedByte(sent: SentSummary): LabMessage['error'] | undefined {
  return sent.messages.find((m) => m.status === 'error')?.error;
}
