import { expect } from 'vitest';
import type { Decoded, DecodeResult } from '../../../shared/socks/index.ts';

/**
 * Decodes `bytes` three ways, as h11's tests do: whole, every prefix (as a client sending one byte at a time
 * would present it), and followed by trailing bytes that must stay untouched. Returns the whole-message result.
 */
export function decodeThreeWays<T>(
  decode: (b: Uint8Array) => DecodeResult<T>,
  bytes: Uint8Array,
  framed = true,
): DecodeResult<T> {
  const whole = decode(bytes);
  for (let k = 0; k < bytes.length; k++) {
    const part = decode(bytes.subarray(0, k));
    if (part.status === 'need') {
      expect(part.need).toBeGreaterThanOrEqual(1);
      expect(k + part.need).toBeLessThanOrEqual(bytes.length);
    } else if (part.status === 'done' && !framed) {
      // A datagram's data runs to its end: a shorter datagram is a different, whole one.
      continue;
    } else {
      // A prefix can only fail early with the very error the whole message has.
      expect(whole.status).toBe('error');
      expect(part).toEqual(whole);
    }
  }
  if (!framed) return whole;
  const trailing = Uint8Array.from([...bytes, 0xde, 0xad, 0xbe, 0xef]);
  const withTail = decode(trailing);
  if (whole.status === 'done') {
    expect(withTail).toEqual({ ...whole, status: 'done' });
    expect(withTail.status === 'done' && withTail.length).toBe(bytes.length);
  } else if (whole.status === 'error') {
    expect(withTail.status).toBe('error');
  }
  return whole;
}

export function expectDone<T>(result: DecodeResult<T>): Decoded<T> {
  if (result.status !== 'done') throw new Error(`expected a decoded message, got ${JSON.stringify(result)}`);
  return result;
}

export function expectError<T>(result: DecodeResult<T>, code: string): void {
  if (result.status !== 'error') throw new Error(`expected ${code}, got ${JSON.stringify(result)}`);
  expect(result.error.code).toBe(code);
  expect(result.error.name).toBe('SocksError');
}
