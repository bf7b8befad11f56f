/**
 * The client side of a SOCKS4, SOCKS4a or SOCKS5 CONNECT handshake with one proxy, without I/O. `start()` gives the
 * first bytes to write; `receive(bytes)` gives what to write next, what was understood, and finally `done` (with
 * the address the proxy bound) or `error`. Messages are not pipelined: each waits for the proxy's answer, which
 * every server handles (microsocks, for one, does not handle pipelining). Every message written or read is
 * reported with its field description, so the caller can build a transcript.
 */
import { AuthMethod, Command, Socks4ReplyCode, Socks5ReplyCode, socks4ReplyText, socks5ReplyText } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import { concatBytes, isValidHostname, parseIPv4, toHex } from './address.ts';
import type { DecodeResult, Field } from './reader.ts';
import { encodeWith } from './encode-result.ts';
import { socks5AddressError } from './socks5-address.ts';
import { decodeSocks4Reply, decodeSocks4Request, encodeSocks4Request } from './socks4.ts';
import {
  decodeSocks5Greeting,
  decodeSocks5MethodSelection,
  decodeSocks5Reply,
  decodeSocks5Request,
  encodeSocks5Greeting,
  encodeSocks5Request,
} from './socks5.ts';
import { decodeUserPassReply, decodeUserPassRequest, encodeUserPassRequest } from './userpass.ts';
import type { ReplyContext } from './reply-context.ts';

export type ProxyType = 'socks4' | 'socks4a' | 'socks5';

export interface ClientHandshakeOptions {
  type: ProxyType;
  /** Where the proxy should connect. For `socks4` this must be an IPv4 literal (resolve it first). */
  host: string;
  port: number;
  /** SOCKS5: RFC 1929 username (offering method 0x02); SOCKS4/4a: sent as USERID. */
  username?: string | undefined;
  password?: string | undefined;
  /** Withhold the password from the transcript: its field is `masked` and its bytes read `**` in `hex`. */
  maskPassword?: boolean;
  /**
   * CONNECT (default), BIND (two replies: `bound` with the address the proxy listens on, then `done` with the peer
   * that connected) or UDP ASSOCIATE (SOCKS5 only; `done` carries the relay's address).
   */
  command?: number;
  /**
   * SOCKS5: offer only GSS-API (method 0x01, RFC 1961). When the proxy selects it the machine gives an
   * `authenticate` step and waits: the caller runs the subnegotiation (GssClientHandshake in ./gssapi.ts) over the
   * same connection, then calls `authenticated()` for the request.
   */
  gssapi?: boolean;
}

/** Names of the messages, as the transcript and the inspector label them. */
export type MessageKind =
  | 'socks4.request'
  | 'socks4.reply'
  | 'socks5.greeting'
  | 'socks5.method'
  | 'socks5.auth'
  | 'socks5.auth-reply'
  | 'socks5.request'
  | 'socks5.reply'
  | 'gssapi.context'
  | 'gssapi.protection'
  | 'gssapi.abort'
  | 'gssapi.encapsulated';

export interface HandshakeMessage {
  kind: MessageKind;
  direction: 'sent' | 'received';
  /** The bytes as they travelled, as hex ("05 01 00"); a masked password's bytes read `**`. */
  hex: string;
  fields: Field[];
}

export type ClientStep =
  | { type: 'write'; bytes: Uint8Array; message: HandshakeMessage }
  | { type: 'read'; message: HandshakeMessage }
  | { type: 'bound'; bound: { host: string; port: number } }
  /** The proxy selected a method whose subnegotiation runs outside this machine (GSS-API): run it, then `authenticated()`. */
  | { type: 'authenticate'; method: number }
  | { type: 'done'; bound: { host: string; port: number } }
  | { type: 'error'; error: SocksError };

type State = 'idle' | 'socks4-reply' | 'method' | 'auth-reply' | 'external-auth' | 'reply' | 'done' | 'failed';

export class ClientHandshake {
  private state: State = 'idle';
  private buffer: Uint8Array = new Uint8Array(0);
  /** BIND: the first reply has come; the next one names the peer. */
  private boundSeen = false;

  constructor(private readonly options: ClientHandshakeOptions) {}

  private get command(): number {
    return this.options.command ?? Command.CONNECT;
  }

  /**
   * The first message to write. Options SOCKS cannot carry (a host such as " 127.0.0.1", a port out of range, an
   * over-long user name) give an `error` step here, before anything is written: the machine never throws for them.
   */
  start(): ClientStep[] {
    if (this.state !== 'idle') throw new SocksError(SocksErrorCode.BAD_STATE, 'handshake already started');
    const o = this.options;
    const problem = this.optionsError();
    if (problem) return [this.fail(problem)];
    if (o.type === 'socks5') {
      this.state = 'method';
      const methods = o.gssapi
        ? [AuthMethod.GSSAPI]
        : o.username !== undefined
          ? [AuthMethod.NO_AUTH, AuthMethod.USERNAME_PASSWORD]
          : [AuthMethod.NO_AUTH];
      return [this.write('socks5.greeting', () => encodeSocks5Greeting(methods), decodeSocks5Greeting)];
    }
    this.state = 'socks4-reply';
    const request = { command: this.command, host: o.host, port: o.port, userId: o.username ?? '', socks4a: o.type === 'socks4a' };
    return [this.write('socks4.request', () => encodeSocks4Request(request), decodeSocks4Request)];
  }

  /** Why these options cannot make a handshake, or undefined. */
  private optionsError(): SocksError | undefined {
    const o = this.options;
    if (o.type === 'socks5') return socks5AddressError(o.host, o.port);
    if (o.gssapi) return new SocksError(SocksErrorCode.NO_ACCEPTABLE_METHOD, 'GSS-API authentication needs SOCKS5');
    if (this.command === Command.UDP_ASSOCIATE) return new SocksError(SocksErrorCode.BAD_COMMAND, 'UDP ASSOCIATE needs SOCKS5');
    if (o.type === 'socks4' && !parseIPv4(o.host)) {
      return new SocksError(SocksErrorCode.BAD_ADDRESS, `plain SOCKS4 carries IPv4 addresses only, not ${JSON.stringify(o.host)}`);
    }
    if (!parseIPv4(o.host) && !isValidHostname(o.host)) {
      return new SocksError(SocksErrorCode.BAD_HOSTNAME, `not a host name SOCKS4a can carry: ${JSON.stringify(o.host.slice(0, 300))}`);
    }
    return undefined;
  }

  /** Bytes from the proxy. After `done`, any bytes past the reply belong to the tunnel: see `takeRest`. */
  receive(data: Uint8Array): ClientStep[] {
    if (this.state === 'done' || this.state === 'failed' || this.state === 'idle' || this.state === 'external-auth') {
      throw new SocksError(SocksErrorCode.BAD_STATE, `cannot receive in state ${this.state}`);
    }
    this.buffer = this.buffer.length === 0 ? data.slice() : concatBytes([this.buffer, data]);
    const steps: ClientStep[] = [];
    while (!this.over() && this.step(steps));
    return steps;
  }

  private over(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  /**
   * The external subnegotiation (GSS-API) succeeded: gives the request to write. Bytes the proxy sent after that
   * subnegotiation go to `receive` as usual.
   */
  authenticated(): ClientStep[] {
    if (this.state !== 'external-auth') throw new SocksError(SocksErrorCode.BAD_STATE, `no subnegotiation is pending (state ${this.state})`);
    this.state = 'reply';
    return [this.request()];
  }

  /** The proxy closed before the handshake finished. */
  closed(): ClientStep[] {
    if (this.over()) return [];
    return [this.fail(new SocksError(SocksErrorCode.PROXY_CLOSED, 'the proxy closed the connection during the handshake'))];
  }

  takeRest(): Uint8Array {
    const rest = this.buffer;
    this.buffer = new Uint8Array(0);
    return rest;
  }

  /** Handles one message if it is complete; returns false when more bytes are needed. */
  private step(steps: ClientStep[]): boolean {
    const o = this.options;
    switch (this.state) {
      case 'socks4-reply': {
        const r = this.read('socks4.reply', (b) => decodeSocks4Reply(b, this.replyContext()), steps);
        if (!r) return false;
        if (r.code !== Socks4ReplyCode.GRANTED) {
          steps.push(this.fail(rejected(`SOCKS4 proxy replied 0x${r.code.toString(16)} (${socks4ReplyText(r.code)})`, r.code)));
        } else {
          steps.push(this.success(r.host, r.port));
        }
        return true;
      }
      case 'method': {
        const r = this.read('socks5.method', decodeSocks5MethodSelection, steps);
        if (!r) return false;
        if (r.method === AuthMethod.GSSAPI && o.gssapi) {
          this.state = 'external-auth';
          steps.push({ type: 'authenticate', method: r.method });
        } else if (r.method === AuthMethod.NO_AUTH && !o.gssapi) {
          this.state = 'reply';
          steps.push(this.request());
        } else if (r.method === AuthMethod.USERNAME_PASSWORD && o.username !== undefined) {
          this.state = 'auth-reply';
          const encode = () => encodeUserPassRequest(o.username!, o.password ?? '');
          steps.push(this.write('socks5.auth', encode, (b) => decodeUserPassRequest(b, o.maskPassword === true)));
        } else {
          const why =
            r.method === AuthMethod.NO_ACCEPTABLE
              ? `the proxy accepts none of the offered methods (${o.gssapi ? 'it does not do GSS-API' : 'it may require a username and password'})`
              : `the proxy chose method 0x${r.method.toString(16)}, which was not offered`;
          steps.push(this.fail(new SocksError(SocksErrorCode.NO_ACCEPTABLE_METHOD, why)));
        }
        return true;
      }
      case 'auth-reply': {
        const r = this.read('socks5.auth-reply', decodeUserPassReply, steps);
        if (!r) return false;
        if (r.status !== 0) {
          steps.push(this.fail(new SocksError(SocksErrorCode.AUTH_FAILED, 'the proxy rejected the username or password')));
        } else {
          this.state = 'reply';
          steps.push(this.request());
        }
        return true;
      }
      case 'reply': {
        const r = this.read('socks5.reply', (b) => decodeSocks5Reply(b, this.replyContext()), steps);
        if (!r) return false;
        if (r.reply !== Socks5ReplyCode.SUCCEEDED) {
          steps.push(this.fail(rejected(`SOCKS5 proxy replied 0x${r.reply.toString(16).padStart(2, '0')} (${socks5ReplyText(r.reply)})`, r.reply)));
        } else {
          steps.push(this.success(r.host, r.port));
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** Which request the next reply answers: the command, and for BIND whether it is the first or second reply. */
  private replyContext(): ReplyContext {
    return this.command === Command.BIND ? { command: this.command, bindReply: this.boundSeen ? 2 : 1 } : { command: this.command };
  }

  private request(): ClientStep {
    const o = this.options;
    return this.write('socks5.request', () => encodeSocks5Request({ command: this.command, host: o.host, port: o.port }), decodeSocks5Request);
  }

  /** A success reply: the end, except for BIND's first reply. */
  private success(host: string, port: number): ClientStep {
    if (this.command === Command.BIND && !this.boundSeen) {
      this.boundSeen = true;
      return { type: 'bound', bound: { host, port } };
    }
    return this.finish(host, port);
  }

  /** Encodes a message to write; an encoder's error becomes the handshake's `error` step instead of a throw. */
  private write(kind: MessageKind, encode: () => Uint8Array, decode: (b: Uint8Array) => DecodeResult<unknown>): ClientStep {
    const encoded = encodeWith(encode);
    if (encoded.status === 'error') return this.fail(encoded.error);
    const bytes = encoded.bytes;
    const described = decode(bytes);
    const fields = described.status === 'done' ? described.fields : [];
    // A masked field (the password) reads `**` per byte: the hex never pretends to be what was sent.
    const tokens = toHex(bytes).split(' ');
    for (const f of fields) if (f.masked === true) tokens.fill('**', f.offset, f.offset + f.length);
    return { type: 'write', bytes, message: { kind, direction: 'sent', hex: tokens.join(' '), fields } };
  }

  private read<T>(kind: MessageKind, decode: (b: Uint8Array) => DecodeResult<T>, steps: ClientStep[]): T | undefined {
    const r = decode(this.buffer);
    if (r.status === 'need') return undefined;
    if (r.status === 'error') {
      steps.push(this.fail(r.error));
      return undefined;
    }
    const hex = toHex(this.buffer.subarray(0, r.length));
    this.buffer = this.buffer.subarray(r.length);
    steps.push({ type: 'read', message: { kind, direction: 'received', hex, fields: r.fields } });
    return r.message;
  }

  private finish(host: string, port: number): ClientStep {
    this.state = 'done';
    return { type: 'done', bound: { host, port } };
  }

  private fail(error: SocksError): ClientStep {
    this.state = 'failed';
    return { type: 'error', error };
  }
}

function rejected(message: string, replyCode: number): SocksError {
  return new SocksError(SocksErrorCode.REJECTED, message, { replyCode });
}
