/**
 * The server side of a SOCKS4, SOCKS4a or SOCKS5 handshake as a state machine without I/O, in the manner of h11:
 * feed it bytes with `receive`, pull events with `next` until it says "need", write whatever reply bytes an event
 * carries. It picks the version from the first byte, the method from the server's preference, and stops after the
 * request, leaving any bytes the client pipelined behind it to `takeRest`.
 */
import { AuthMethod, SOCKS4_VERSION, SOCKS5_VERSION, Socks4ReplyCode, Socks5ReplyCode } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import { concatBytes } from './address.ts';
import type { DecodeResult, Field } from './reader.ts';
import { decodeSocks4Request, encodeSocks4Reply, type Socks4Request } from './socks4.ts';
import {
  decodeSocks5Greeting,
  decodeSocks5Request,
  encodeSocks5MethodSelection,
  encodeSocks5Reply,
  type Socks5Greeting,
  type Socks5Request,
} from './socks5.ts';
import { hex2 } from './socks5-address.ts';
import { decodeUserPassRequest, encodeUserPassReply, type UserPassRequest } from './userpass.ts';

export interface ServerHandshakeOptions {
  /** SOCKS5 methods the server accepts, most preferred first (e.g. `[0x02]` to require a password). */
  methods: readonly number[];
  /** Whether SOCKS4 and SOCKS4a requests are accepted at all. */
  socks4: boolean;
}

/** What the peer sent, with its raw bytes and field-by-field description. */
interface Received {
  raw: Uint8Array;
  fields: Field[];
}

export type ServerEvent =
  | { type: 'need'; need: number }
  | (Received & { type: 'greeting'; greeting: Socks5Greeting; method: number; reply: Uint8Array })
  | (Received & { type: 'auth'; request: UserPassRequest })
  | (Received & { type: 'request'; request: Socks4Request | Socks5Request })
  | { type: 'error'; error: SocksError; reply?: Uint8Array };

type State = 'start' | 'socks5-auth' | 'auth-pending' | 'external-auth' | 'socks5-request' | 'socks4-request' | 'done' | 'failed';

export class ServerHandshake {
  private state: State = 'start';
  private buffer: Uint8Array = new Uint8Array(0);

  constructor(private readonly options: ServerHandshakeOptions) {}

  /** The SOCKS version the client speaks, once its first byte has arrived. */
  version: 4 | 5 | undefined;

  receive(data: Uint8Array): void {
    if (this.state === 'done' || this.state === 'failed') {
      throw new SocksError(SocksErrorCode.BAD_STATE, `cannot receive handshake bytes in state ${this.state}`);
    }
    this.buffer = this.buffer.length === 0 ? data.slice() : concatBytes([this.buffer, data]);
  }

  next(): ServerEvent {
    // Nothing buffered: every message starts with a one-byte field, so a decoder would say "need 1" (by way of an
    // exception); the common case between greeting and request.
    if (this.buffer.length === 0 && (this.state === 'socks5-auth' || this.state === 'socks5-request' || this.state === 'socks4-request')) {
      return { type: 'need', need: 1 };
    }
    switch (this.state) {
      case 'start':
        return this.start();
      case 'socks5-auth':
        return this.step(decodeUserPassRequest(this.buffer, true), (msg, raw, fields) => {
          this.state = 'auth-pending';
          return { type: 'auth', request: msg, raw, fields };
        });
      case 'socks5-request':
        return this.step(decodeSocks5Request(this.buffer), (msg, raw, fields) => {
          this.state = 'done';
          return { type: 'request', request: msg, raw, fields };
        });
      case 'socks4-request':
        return this.step(decodeSocks4Request(this.buffer), (msg, raw, fields) => {
          this.state = 'done';
          return { type: 'request', request: msg, raw, fields };
        });
      case 'auth-pending':
        throw new SocksError(SocksErrorCode.BAD_STATE, 'call authResult() before next()');
      case 'external-auth':
        throw new SocksError(SocksErrorCode.BAD_STATE, 'call externalAuthResult() before next()');
      case 'done':
      case 'failed':
        return { type: 'need', need: 0 };
    }
  }

  /** Answers an `auth` event; returns the RFC 1929 reply to write. After a failure the server must close. */
  authResult(ok: boolean): Uint8Array {
    if (this.state !== 'auth-pending') {
      throw new SocksError(SocksErrorCode.BAD_STATE, `no authentication is pending (state ${this.state})`);
    }
    this.state = ok ? 'socks5-request' : 'failed';
    return encodeUserPassReply(ok);
  }

  /**
   * Ends the subnegotiation of a method this machine does not run itself (GSS-API, method 0x01: the caller runs
   * GssServerHandshake over `takeRest()` and the bytes after it). After success the machine waits for the request:
   * give it the bytes that followed the subnegotiation with `receive`.
   */
  externalAuthResult(ok: boolean): void {
    if (this.state !== 'external-auth') {
      throw new SocksError(SocksErrorCode.BAD_STATE, `no external authentication is pending (state ${this.state})`);
    }
    this.state = ok ? 'socks5-request' : 'failed';
  }

  /** Bytes received after the request (data the client pipelined); empties the buffer. */
  takeRest(): Uint8Array {
    const rest = this.buffer;
    this.buffer = new Uint8Array(0);
    return rest;
  }

  private start(): ServerEvent {
    const first = this.buffer[0];
    if (first === undefined) return { type: 'need', need: 1 };
    if (first === SOCKS4_VERSION && this.options.socks4) {
      this.version = 4;
      this.state = 'socks4-request';
      return this.next();
    }
    if (first !== SOCKS5_VERSION) {
      this.state = 'failed';
      const what = first === SOCKS4_VERSION ? 'SOCKS4 is not enabled on this server' : `unknown SOCKS version 0x${hex2(first)}`;
      return { type: 'error', error: new SocksError(SocksErrorCode.BAD_VERSION, what, { offset: 0 }) };
    }
    this.version = 5;
    return this.step(decodeSocks5Greeting(this.buffer), (greeting, raw, fields) => {
      const method = this.options.methods.find((m) => greeting.methods.includes(m)) ?? AuthMethod.NO_ACCEPTABLE;
      this.state =
        method === AuthMethod.NO_ACCEPTABLE
          ? 'failed'
          : method === AuthMethod.USERNAME_PASSWORD
            ? 'socks5-auth'
            : method === AuthMethod.GSSAPI
              ? 'external-auth'
              : 'socks5-request';
      return { type: 'greeting', greeting, method, reply: encodeSocks5MethodSelection(method), raw, fields };
    });
  }

  private step<T>(result: DecodeResult<T>, done: (message: T, raw: Uint8Array, fields: Field[]) => ServerEvent): ServerEvent {
    if (result.status === 'need') return { type: 'need', need: result.need };
    if (result.status === 'error') {
      const stage = this.state;
      this.state = 'failed';
      return { type: 'error', error: result.error, ...this.failureReply(stage, result.error) };
    }
    const raw = this.buffer.slice(0, result.length);
    this.buffer = this.buffer.subarray(result.length);
    return done(result.message, raw, result.fields);
  }

  /** A request the server cannot parse still gets a reply where the protocol has one for it. */
  private failureReply(stage: State, error: SocksError): { reply?: Uint8Array } {
    if (stage === 'socks4-request') return { reply: encodeSocks4Reply({ code: Socks4ReplyCode.REJECTED }) };
    if (stage === 'socks5-request') {
      return { reply: encodeSocks5Reply({ reply: error.replyCode ?? Socks5ReplyCode.GENERAL_FAILURE }) };
    }
    return {};
  }
}
