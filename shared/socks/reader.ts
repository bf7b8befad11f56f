/**
 * The decoding core: a cursor over one contiguous buffer that records a Field for everything it reads, and that
 * stops with "need N more bytes" rather than reading past the end. Every decoder is a function of a Reader, so
 * each message is decoded and described by one piece of code.
 */
import { SocksError } from './errors.ts';
import { toHex } from './address.ts';

/** One field of a decoded message, as the handshake inspector shows it. */
export interface Field {
  /**
   * Stable machine name: Wireshark's SOCKS dissector field where it has one (`socks.version`, `socks.results`),
   * else this project's own, prefixed `wsocks.` (`wsocks.username_length`): test/unit/socks/wireshark-names.test.ts.
   */
  name: string;
  /** The label the specification uses, e.g. `VER`, `NMETHODS`, `DST.ADDR`. */
  label: string;
  /** Offset of the first byte within the message. */
  offset: number;
  length: number;
  /** The raw bytes as lower-case hex, space separated. */
  hex: string;
  /** The decoded value: a number for integer fields, text otherwise. */
  value: number | string;
  /** One line in words, e.g. `connection refused`. */
  meaning: string;
  /** Where the field is defined, e.g. `RFC 1928 §6`. */
  spec: string;
  /** The bytes are not shown: `hex` reads `**` for each (a password in a transcript). */
  masked?: boolean | undefined;
}

export interface Decoded<T> {
  status: 'done';
  message: T;
  /** Bytes the message took; anything after that is not the decoder's. */
  length: number;
  fields: Field[];
}
export interface NeedMore {
  status: 'need';
  /** The least number of further bytes that could complete the message. */
  need: number;
  /** The fields read before the bytes ran out (a truncated message, explained as far as it goes). */
  fields: Field[];
}
export interface DecodeFailure {
  status: 'error';
  error: SocksError;
  /** The fields read; when the error is about a field's value, that field is the last, its meaning the error's. */
  fields: Field[];
}
export type DecodeResult<T> = Decoded<T> | NeedMore | DecodeFailure;

class Incomplete {
  constructor(readonly need: number) {}
}

export class Reader {
  offset = 0;
  readonly fields: Field[] = [];

  constructor(
    readonly bytes: Uint8Array,
    private readonly spec: string,
  ) {}

  private ensure(n: number): void {
    const missing = this.offset + n - this.bytes.length;
    if (missing > 0) throw new Incomplete(missing);
  }

  private record(name: string, label: string, length: number, value: number | string, meaning: string): void {
    const raw = this.bytes.subarray(this.offset, this.offset + length);
    this.fields.push({ name, label, offset: this.offset, length, hex: toHex(raw), value, meaning, spec: this.spec });
    this.offset += length;
  }

  /** Runs a field's check; a SocksError it throws is recorded as the field (meaning "rejected: ...") and rethrown. */
  private checked<T>(name: string, label: string, length: number, value: () => number | string, check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof SocksError) this.record(name, label, length, value(), `rejected: ${err.message}`);
      throw err;
    }
  }

  /** Reads one byte; `check` may throw a SocksError (it is told the field's offset) or return its meaning. */
  u8(name: string, label: string, check: (value: number, offset: number) => string): number {
    this.ensure(1);
    const value = this.bytes[this.offset]!;
    this.record(name, label, 1, value, this.checked(name, label, 1, () => value, () => check(value, this.offset)));
    return value;
  }

  u16(name: string, label: string, check: (value: number, offset: number) => string): number {
    this.ensure(2);
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.record(name, label, 2, value, this.checked(name, label, 2, () => value, () => check(value, this.offset)));
    return value;
  }

  /** Reads `length` bytes; `render` gives the shown value and meaning. */
  take(
    name: string,
    label: string,
    length: number,
    render: (bytes: Uint8Array, offset: number) => { value: string; meaning: string },
  ): Uint8Array {
    this.ensure(length);
    const bytes = this.bytes.subarray(this.offset, this.offset + length);
    const { value, meaning } = this.checked(name, label, length, () => toHex(bytes), () => render(bytes, this.offset));
    this.record(name, label, length, value, meaning);
    return bytes;
  }

  /**
   * Reads a NUL-terminated field (SOCKS4 USERID, SOCKS4a host) of at most `max` bytes before the NUL. The NUL is
   * recorded as a field of its own so that every byte of the message is explained.
   */
  cstring(
    name: string,
    label: string,
    max: number,
    onTooLong: (offset: number) => SocksError,
    render: (bytes: Uint8Array, offset: number) => { value: string; meaning: string },
  ): Uint8Array {
    const limit = Math.min(this.bytes.length, this.offset + max + 1);
    let end = this.offset;
    while (end < limit && this.bytes[end] !== 0) end++;
    if (end === limit) {
      if (end - this.offset > max) throw onTooLong(this.offset);
      throw new Incomplete(1);
    }
    const value = this.take(name, label, end - this.offset, render);
    this.u8(`wsocks.${name.replace(/^socks\./, '')}_terminator`, 'NUL', () => 'end of field');
    return value;
  }

  rest(name: string, label: string, render: (bytes: Uint8Array) => { value: string; meaning: string }): Uint8Array {
    return this.take(name, label, this.bytes.length - this.offset, render);
  }
}

/** Runs a decoder over `bytes` and turns "ran out of bytes" and protocol errors into results. */
export function decodeWith<T>(bytes: Uint8Array, spec: string, decode: (r: Reader) => T): DecodeResult<T> {
  const reader = new Reader(bytes, spec);
  try {
    const message = decode(reader);
    return { status: 'done', message, length: reader.offset, fields: reader.fields };
  } catch (err) {
    if (err instanceof Incomplete) return { status: 'need', need: err.need, fields: reader.fields };
    if (err instanceof SocksError) return { status: 'error', error: err, fields: reader.fields };
    throw err;
  }
}
