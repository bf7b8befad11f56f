/**
 * The GSS-API method of SOCKS5 (RFC 1961), without I/O and without Kerberos: the message codec, and the client and
 * server machines of the method-0x01 subnegotiation. The GSS operations themselves (gss_init_sec_context,
 * gss_accept_sec_context, gss_wrap, gss_unwrap) are injected as callbacks, so this module stays pure; the bridge and
 * the SOCKS server pass in a binding to the system's GSS-API (server/gssapi/).
 *
 * Every message is `VER MTYP LEN TOKEN` (VER 0x01, LEN a big-endian u16), except the abort, which is `VER 0xFF`.
 * 1. Context establishment (MTYP 0x01): the client's gss_init_sec_context tokens and the server's
 *    gss_accept_sec_context tokens, until both contexts are complete (§3).
 * 2. Protection-level subnegotiation (MTYP 0x02): the client proposes a level, the server answers with the level it
 *    chose; each one octet, sealed with gss_wrap (conf_req false) as RFC 1961 §4 says, or in clear as the NEC
 *    reference implementation sends it (curl's --socks5-gssapi-nec, Dante's `clientcompatibility: necgssapi`).
 * 3. Then the SOCKS5 request, and with integrity or confidentiality every byte of the connection afterwards, travel
 *    as encapsulated messages (MTYP 0x03) whose token is gss_wrap of the data (§5).
 */
import { SocksError, SocksErrorCode } from './errors.ts';
import { concatBytes, toHex } from './address.ts';
import type { ClientStep, MessageKind } from './client-handshake.ts';
import { decodeWith, type DecodeResult, type Reader } from './reader.ts';
import { hex2 } from './socks5-address.ts';

export const GSSAPI_VERSION = 0x01;

/** MTYP values of RFC 1961. */
export const GssMessageType = {
  CONTEXT: 0x01,
  PROTECTION: 0x02,
  ENCAPSULATED: 0x03,
  ABORT: 0xff,
} as const;

/**
 * Protection levels. RFC 1961 §4 defines 1-3; 0x00 ("clear": no per-message protection) is what the NEC reference
 * implementation, Dante (`gssapi.enctype: clear`) and curl use when neither side protects the data.
 */
export const GssProtection = {
  CLEAR: 0x00,
  INTEGRITY: 0x01,
  CONFIDENTIALITY: 0x02,
  PER_MESSAGE: 0x03,
} as const;
export type GssProtectionLevel = (typeof GssProtection)[keyof typeof GssProtection];

/** The largest token a message can carry (LEN is 16 bits). */
export const MAX_GSS_TOKEN = 0xffff;

const SPEC = 'RFC 1961';
/** Bytes a subnegotiation machine holds unread at most: two whole messages. */
const MAX_UNREAD = 2 * (4 + MAX_GSS_TOKEN);

const TYPE_TEXT: Record<number, string> = {
  0x01: 'context establishment token',
  0x02: 'protection-level subnegotiation',
  0x03: 'encapsulated data (per-message protection)',
  0xff: 'abort: the peer refuses and closes',
};

const PROTECTION_TEXT: Record<number, string> = {
  0x00: 'clear: no per-message protection (NEC, Dante and curl extension)',
  0x01: 'integrity: every message signed (gss_wrap, conf_req false)',
  0x02: 'confidentiality: every message signed and encrypted (gss_wrap, conf_req true)',
  0x03: 'selective: protection chosen per message',
};

export function gssMessageTypeText(type: number): string {
  return TYPE_TEXT[type] ?? 'unknown message type';
}

export function gssProtectionText(level: number): string {
  return PROTECTION_TEXT[level] ?? 'unknown protection level';
}

export interface GssMessage {
  type: number;
  /** The opaque GSS token (empty for an abort). */
  token: Uint8Array;
}

/** DER of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2, as it opens an initial context token (RFC 2743 §3.1). */
const KRB5_OID = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const SPNEGO_OID = [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/** What the first bytes of a context token say, without pretending to parse the mechanism's ASN.1. */
function describeContextToken(token: Uint8Array): string {
  if (token[0] === 0x60) {
    // [APPLICATION 0] with a DER length, then the mechanism OID.
    const lenBytes = token[1] !== undefined && token[1] >= 0x80 ? token[1] - 0x80 : 0;
    const at = 2 + lenBytes;
    const has = (oid: number[]) => oid.every((b, i) => token[at + i] === b);
    if (has(KRB5_OID)) return 'initial context token, mechanism Kerberos V5 (1.2.840.113554.1.2.2): a KRB_AP_REQ with the service ticket';
    if (has(SPNEGO_OID)) return 'initial context token, mechanism SPNEGO (1.3.6.1.5.5.2)';
    return 'initial context token (RFC 2743 §3.1 framing)';
  }
  return 'context token, opaque to SOCKS (for Kerberos V5 the reply is a KRB_AP_REP for mutual authentication)';
}

function renderToken(type: number, token: Uint8Array): { value: string; meaning: string } {
  const value = `${token.length}-byte GSS-API token`;
  switch (type) {
    case GssMessageType.CONTEXT:
      return { value, meaning: describeContextToken(token) };
    case GssMessageType.PROTECTION:
      if (token.length === 1) {
        return { value: `0x${hex2(token[0]!)}`, meaning: `protection level in clear (NEC style): ${gssProtectionText(token[0]!)}` };
      }
      return { value, meaning: 'the protection level octet, sealed with gss_wrap (conf_req false); only the peer can read it' };
    case GssMessageType.ENCAPSULATED:
      return { value, meaning: 'gss_wrap output of the data: unwrap it with the established context' };
    default:
      return { value, meaning: 'opaque token' };
  }
}

function readMessage(r: Reader): GssMessage {
  r.u8('wsocks.gssapi.version', 'VER', (value, offset) => {
    if (value !== GSSAPI_VERSION) {
      throw new SocksError(SocksErrorCode.BAD_VERSION, `expected GSS-API subnegotiation version 1, got 0x${hex2(value)}`, { offset });
    }
    return 'SOCKS/GSS-API subnegotiation version 1';
  });
  const type = r.u8('socks.gssapi.command', 'MTYP', (value, offset) => {
    if (TYPE_TEXT[value] === undefined) {
      throw new SocksError(SocksErrorCode.GSSAPI_BAD_MESSAGE, `unknown GSS-API message type 0x${hex2(value)}`, { offset });
    }
    return gssMessageTypeText(value);
  });
  if (type === GssMessageType.ABORT) return { type, token: new Uint8Array(0) };
  const length = r.u16('socks.gssapi.length', 'LEN', (value, offset) => {
    if (value === 0) throw new SocksError(SocksErrorCode.GSSAPI_BAD_MESSAGE, 'a GSS-API message with an empty token', { offset });
    return `${value}-byte token follows`;
  });
  const token = r.take('socks.gssapi.data', 'TOKEN', length, (b) => renderToken(type, b));
  return { type, token: token.slice() };
}

/** Decodes one RFC 1961 message (any type); `need` until it is whole. */
export function decodeGssMessage(bytes: Uint8Array): DecodeResult<GssMessage> {
  return decodeWith(bytes, SPEC, readMessage);
}

/** Encodes a message of type 0x01, 0x02 or 0x03; a token of 0 or more than 65535 bytes is a FIELD_TOO_LONG error. */
export function encodeGssMessage(type: number, token: Uint8Array): Uint8Array {
  if (type === GssMessageType.ABORT) return encodeGssAbort();
  if (token.length < 1 || token.length > MAX_GSS_TOKEN) {
    throw new SocksError(SocksErrorCode.FIELD_TOO_LONG, `a GSS-API token must be 1-65535 bytes, not ${token.length}`);
  }
  const out = new Uint8Array(4 + token.length);
  out[0] = GSSAPI_VERSION;
  out[1] = type;
  out[2] = token.length >> 8;
  out[3] = token.length & 0xff;
  out.set(token, 4);
  return out;
}

/** The abort message (`01 FF`): the sender refuses and closes the connection. */
export function encodeGssAbort(): Uint8Array {
  return new Uint8Array([GSSAPI_VERSION, GssMessageType.ABORT]);
}

// ---------------------------------------------------------------------------------------------------------------
// The subnegotiation machines.

/** A write, read or error step has the shape of ClientHandshake's, so a transcript takes both alike. */
export type GssStep =
  | Extract<ClientStep, { type: 'write' | 'read' | 'error' }>
  /** The subnegotiation is over: the SOCKS5 request comes next (encapsulated unless `protection` is clear). */
  | { type: 'done'; protection: number; principal?: string | undefined };

/** A context step's result: the token to send (may be empty) and whether the context is established. */
export interface GssContextStep {
  token: Uint8Array;
  complete: boolean;
}

/** The initiator's GSS operations, as the bridge's binding provides them. Any of them may reject. */
export interface GssInitiatorOps {
  /** gss_init_sec_context with the server's last token (empty on the first call). */
  initStep(input: Uint8Array): Promise<GssContextStep>;
  /** gss_wrap; `confidential` is conf_req_flag. */
  wrap(data: Uint8Array, confidential: boolean): Promise<Uint8Array>;
  /** gss_unwrap. */
  unwrap(token: Uint8Array): Promise<Uint8Array>;
}

/** The acceptor's GSS operations. wrap/unwrap are optional: without them only the NEC-style (clear) level exchange works. */
export interface GssAcceptorOps {
  /** gss_accept_sec_context with the client's token; `principal` (the client's name) once complete. */
  acceptStep(input: Uint8Array): Promise<GssContextStep & { principal?: string | undefined }>;
  wrap?: ((data: Uint8Array, confidential: boolean) => Promise<Uint8Array>) | undefined;
  unwrap?: ((token: Uint8Array) => Promise<Uint8Array>) | undefined;
}

const KIND_OF: Record<number, MessageKind> = {
  [GssMessageType.CONTEXT]: 'gssapi.context',
  [GssMessageType.PROTECTION]: 'gssapi.protection',
  [GssMessageType.ENCAPSULATED]: 'gssapi.encapsulated',
  [GssMessageType.ABORT]: 'gssapi.abort',
};

function gssFailure(code: typeof SocksErrorCode.GSSAPI_FAILED | typeof SocksErrorCode.GSSAPI_PROTECTION, what: string, err: unknown): SocksError {
  return new SocksError(code, `${what}: ${(err as Error)?.message ?? String(err)}`);
}

/**
 * Shared plumbing of both machines: a byte buffer, message reads and writes with their field lists, and a queue so
 * that `receive` calls made while a GSS operation is pending are handled in order.
 */
abstract class GssMachine {
  protected buffer: Uint8Array = new Uint8Array(0);
  protected over = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after everything queued before it; once over, further bytes are not this machine's. */
  protected serial(fn: () => Promise<GssStep[]>): Promise<GssStep[]> {
    const run = this.queue.then(() => (this.over ? [] : fn()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Bytes after the `done` step (the SOCKS5 request's reply, or early encapsulated data): not this machine's. */
  takeRest(): Uint8Array {
    const rest = this.buffer;
    this.buffer = new Uint8Array(0);
    return rest;
  }

  /**
   * Buffers bytes from the peer. A peer never needs more than two whole messages ahead of us (the last context or
   * protection message and the request after it), so more than that unread is refused rather than kept.
   */
  protected append(data: Uint8Array): void {
    if (this.buffer.length + data.length > MAX_UNREAD) {
      throw new SocksError(SocksErrorCode.GSSAPI_BAD_MESSAGE, `more than ${MAX_UNREAD} bytes sent ahead of the GSS-API subnegotiation`);
    }
    this.buffer = this.buffer.length === 0 ? data.slice() : concatBytes([this.buffer, data]);
  }

  /** The next whole message, or undefined for "need more"; a malformed one is thrown as its SocksError. */
  protected nextMessage(steps: GssStep[]): GssMessage | undefined {
    const r = decodeGssMessage(this.buffer);
    if (r.status === 'need') return undefined;
    if (r.status === 'error') throw r.error;
    const hex = toHex(this.buffer.subarray(0, r.length));
    this.buffer = this.buffer.subarray(r.length);
    steps.push({ type: 'read', message: { kind: KIND_OF[r.message.type]!, direction: 'received', hex, fields: r.fields } });
    return r.message;
  }

  protected write(type: number, token: Uint8Array): GssStep {
    const bytes = encodeGssMessage(type, token);
    const described = decodeGssMessage(bytes);
    const fields = described.status === 'done' ? described.fields : [];
    return { type: 'write', bytes, message: { kind: KIND_OF[type]!, direction: 'sent', hex: toHex(bytes), fields } };
  }

  protected fail(error: SocksError): GssStep {
    this.over = true;
    return { type: 'error', error };
  }
}

export interface GssClientOptions {
  ops: GssInitiatorOps;
  /** The level to propose (default confidentiality, as curl does when the mechanism offers it). */
  protection?: number;
  /** The levels accepted in the server's answer (default: clear, integrity, confidentiality). */
  accept?: readonly number[];
  /** Send and expect the level octet in clear (NEC reference implementation, curl --socks5-gssapi-nec). */
  nec?: boolean;
}

type ClientState = 'idle' | 'context' | 'protection' | 'done';

/**
 * The client (initiator) side, after the proxy selected method 0x01. `start()` gives the first context token to
 * write; feed the proxy's bytes to `receive`. Steps come as promises, since GSS operations are asynchronous.
 */
export class GssClientHandshake extends GssMachine {
  private state: ClientState = 'idle';
  private contextComplete = false;

  constructor(private readonly options: GssClientOptions) {
    super();
  }

  start(): Promise<GssStep[]> {
    if (this.state !== 'idle') throw new SocksError(SocksErrorCode.BAD_STATE, 'GSS-API subnegotiation already started');
    this.state = 'context';
    return this.serial(() => this.initStep(new Uint8Array(0)));
  }

  receive(data: Uint8Array): Promise<GssStep[]> {
    if (this.state === 'idle') throw new SocksError(SocksErrorCode.BAD_STATE, 'call start() first');
    this.append(data);
    return this.serial(() => this.process());
  }

  /**
   * The proxy closed the connection before the subnegotiation was over. A refusal, as the abort `01 FF` would be:
   * Dante refuses a context it cannot accept or a protection level it does not grant by closing, without the abort.
   */
  closed(): GssStep[] {
    if (this.over) return [];
    return [
      this.fail(
        new SocksError(
          SocksErrorCode.GSSAPI_REJECTED,
          `the proxy closed the connection during the GSS-API ${this.state === 'protection' ? 'protection-level' : 'context'} exchange without an abort message: it refused our ${this.state === 'protection' ? 'protection level' : 'ticket'} (Dante refuses so)`,
        ),
      ),
    ];
  }

  private async initStep(input: Uint8Array): Promise<GssStep[]> {
    let result: GssContextStep;
    try {
      result = await this.options.ops.initStep(input);
    } catch (err) {
      return [this.fail(gssFailure(SocksErrorCode.GSSAPI_FAILED, 'gss_init_sec_context failed', err))];
    }
    const steps: GssStep[] = [];
    if (result.token.length > MAX_GSS_TOKEN) {
      return [this.fail(new SocksError(SocksErrorCode.FIELD_TOO_LONG, `a ${result.token.length}-byte context token does not fit RFC 1961's 16-bit length`))];
    }
    if (result.token.length > 0) steps.push(this.write(GssMessageType.CONTEXT, result.token));
    this.contextComplete = result.complete;
    if (result.complete) steps.push(...(await this.proposeProtection()));
    return steps;
  }

  private async proposeProtection(): Promise<GssStep[]> {
    this.state = 'protection';
    const level = Uint8Array.of(this.options.protection ?? GssProtection.CONFIDENTIALITY);
    if (this.options.nec) return [this.write(GssMessageType.PROTECTION, level)];
    try {
      return [this.write(GssMessageType.PROTECTION, await this.options.ops.wrap(level, false))];
    } catch (err) {
      return [this.fail(gssFailure(SocksErrorCode.GSSAPI_FAILED, 'gss_wrap of the protection level failed', err))];
    }
  }

  private async process(): Promise<GssStep[]> {
    const steps: GssStep[] = [];
    while (!this.over && this.state !== 'done') {
      let message: GssMessage | undefined;
      try {
        message = this.nextMessage(steps);
      } catch (err) {
        steps.push(this.fail(err as SocksError));
        break;
      }
      if (!message) break;
      if (message.type === GssMessageType.ABORT) {
        steps.push(this.fail(new SocksError(SocksErrorCode.GSSAPI_REJECTED, 'the proxy aborted the GSS-API subnegotiation (01 FF): it did not accept our credentials or protection level')));
        break;
      }
      if (this.state === 'context') {
        if (message.type !== GssMessageType.CONTEXT || this.contextComplete) {
          steps.push(this.fail(unexpected(message.type, 'a context token')));
          break;
        }
        steps.push(...(await this.initStep(message.token)));
        continue;
      }
      // state 'protection'
      if (message.type !== GssMessageType.PROTECTION) {
        steps.push(this.fail(unexpected(message.type, 'the protection-level answer')));
        break;
      }
      steps.push(await this.chosenLevel(message.token));
    }
    return steps;
  }

  private async chosenLevel(token: Uint8Array): Promise<GssStep> {
    let plain: Uint8Array;
    if (this.options.nec) {
      plain = token;
    } else {
      try {
        plain = await this.options.ops.unwrap(token);
      } catch (err) {
        return this.fail(gssFailure(SocksErrorCode.GSSAPI_PROTECTION, 'gss_unwrap of the proxy\'s protection level failed (a NEC-style proxy sends it in clear)', err));
      }
    }
    if (plain.length !== 1) {
      return this.fail(new SocksError(SocksErrorCode.GSSAPI_PROTECTION, `the protection level must be one octet, got ${plain.length}`));
    }
    const level = plain[0]!;
    const accepted = this.options.accept ?? [GssProtection.CLEAR, GssProtection.INTEGRITY, GssProtection.CONFIDENTIALITY];
    if (!accepted.includes(level)) {
      return this.fail(new SocksError(SocksErrorCode.GSSAPI_PROTECTION, `the proxy chose protection level 0x${hex2(level)} (${gssProtectionText(level)}), which this client does not support`));
    }
    this.state = 'done';
    this.over = true;
    return { type: 'done', protection: level };
  }
}

export interface GssServerOptions {
  ops: GssAcceptorOps;
  /**
   * Picks the level to answer with from the client's proposal, or undefined to refuse (the client gets an abort).
   * Default: clear, whatever was proposed.
   */
  choose?: (proposed: number) => number | undefined;
}

type ServerState = 'context' | 'protection' | 'done';

/**
 * The server (acceptor) side, after it selected method 0x01. Feed the client's bytes to `receive`; write what the
 * steps carry. On `error` the machine has already produced the abort message (as a `write` step) where RFC 1961
 * has one: write it, then close.
 */
export class GssServerHandshake extends GssMachine {
  private state: ServerState = 'context';
  private principal: string | undefined;

  constructor(private readonly options: GssServerOptions) {
    super();
  }

  receive(data: Uint8Array): Promise<GssStep[]> {
    this.append(data);
    return this.serial(() => this.process());
  }

  private abort(steps: GssStep[], error: SocksError): void {
    steps.push(this.write(GssMessageType.ABORT, new Uint8Array(0)), this.fail(error));
  }

  private async process(): Promise<GssStep[]> {
    const steps: GssStep[] = [];
    while (!this.over) {
      let message: GssMessage | undefined;
      try {
        message = this.nextMessage(steps);
      } catch (err) {
        this.abort(steps, err as SocksError);
        break;
      }
      if (!message) break;
      if (message.type === GssMessageType.ABORT) {
        steps.push(this.fail(new SocksError(SocksErrorCode.GSSAPI_REJECTED, 'the client aborted the GSS-API subnegotiation')));
        break;
      }
      if (this.state === 'context') {
        if (message.type !== GssMessageType.CONTEXT) {
          this.abort(steps, unexpected(message.type, 'a context token'));
          break;
        }
        await this.acceptStep(message.token, steps);
        continue;
      }
      if (message.type !== GssMessageType.PROTECTION) {
        this.abort(steps, unexpected(message.type, 'the protection-level proposal'));
        break;
      }
      await this.answerProtection(message.token, steps);
    }
    return steps;
  }

  private async acceptStep(token: Uint8Array, steps: GssStep[]): Promise<void> {
    let result: GssContextStep & { principal?: string | undefined };
    try {
      result = await this.options.ops.acceptStep(token);
    } catch (err) {
      this.abort(steps, gssFailure(SocksErrorCode.GSSAPI_FAILED, 'gss_accept_sec_context failed', err));
      return;
    }
    if (result.token.length > 0) steps.push(this.write(GssMessageType.CONTEXT, result.token));
    if (result.complete) {
      this.principal = result.principal;
      this.state = 'protection';
    }
  }

  private async answerProtection(token: Uint8Array, steps: GssStep[]): Promise<void> {
    // A sealed octet is never one byte long, so a 1-byte token is the NEC style: answer in kind.
    const nec = token.length === 1;
    const { wrap, unwrap } = this.options.ops;
    let plain: Uint8Array;
    if (nec) {
      plain = token;
    } else if (!unwrap || !wrap) {
      this.abort(steps, new SocksError(SocksErrorCode.GSSAPI_PROTECTION, 'the client sealed its protection level (RFC 1961 §4) and this server\'s GSS-API binding cannot unwrap: only the NEC-style exchange in clear is supported (curl --socks5-gssapi-nec)'));
      return;
    } else {
      try {
        plain = await unwrap(token);
      } catch (err) {
        this.abort(steps, gssFailure(SocksErrorCode.GSSAPI_PROTECTION, 'gss_unwrap of the client\'s protection level failed', err));
        return;
      }
    }
    if (plain.length !== 1) {
      this.abort(steps, new SocksError(SocksErrorCode.GSSAPI_PROTECTION, `the protection level must be one octet, got ${plain.length}`));
      return;
    }
    const proposed = plain[0]!;
    const chosen = (this.options.choose ?? (() => GssProtection.CLEAR))(proposed);
    if (chosen === undefined) {
      this.abort(steps, new SocksError(SocksErrorCode.GSSAPI_PROTECTION, `protection level 0x${hex2(proposed)} (${gssProtectionText(proposed)}) is not offered by this server`));
      return;
    }
    let answer: Uint8Array = Uint8Array.of(chosen);
    if (!nec) {
      try {
        answer = await wrap!(answer, false);
      } catch (err) {
        this.abort(steps, gssFailure(SocksErrorCode.GSSAPI_FAILED, 'gss_wrap of the protection level failed', err));
        return;
      }
    }
    steps.push(this.write(GssMessageType.PROTECTION, answer));
    this.state = 'done';
    this.over = true;
    steps.push({ type: 'done', protection: chosen, principal: this.principal });
  }
}

function unexpected(type: number, expected: string): SocksError {
  return new SocksError(SocksErrorCode.GSSAPI_BAD_MESSAGE, `expected ${expected}, got message type 0x${hex2(type)} (${gssMessageTypeText(type)})`);
}

/**
 * Splits a byte stream of encapsulated messages (MTYP 0x03, RFC 1961 §5) into their tokens: feed it what arrives,
 * take whole tokens out. An abort or any other message type is a coded error; partial messages wait for more bytes.
 */
export class GssFrameReader {
  private buffer: Uint8Array = new Uint8Array(0);

  /** Appends `data` and returns the tokens it completed, in order. Throws a SocksError on a malformed message. */
  push(data: Uint8Array): Uint8Array[] {
    this.buffer = this.buffer.length === 0 ? data.slice() : concatBytes([this.buffer, data]);
    const tokens: Uint8Array[] = [];
    for (;;) {
      const r = decodeGssMessage(this.buffer);
      if (r.status === 'need') return tokens;
      if (r.status === 'error') throw r.error;
      this.buffer = this.buffer.subarray(r.length);
      if (r.message.type === GssMessageType.ABORT) throw new SocksError(SocksErrorCode.GSSAPI_REJECTED, 'the peer aborted the protected connection (01 FF)');
      if (r.message.type !== GssMessageType.ENCAPSULATED) throw unexpected(r.message.type, 'encapsulated data');
      tokens.push(r.message.token);
    }
  }

  /** Bytes of an incomplete message still held (a stream that ends with some is truncated). */
  get pending(): number {
    return this.buffer.length;
  }
}
