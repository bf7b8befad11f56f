/**
 * Encoders' results in the shape decoders give theirs: bytes, or a coded SocksError, never a throw. Handshake
 * machines encode through `encodeWith`, so nothing a caller or a peer supplies can throw out of them.
 */
import { SocksError, SocksErrorCode } from './errors.ts';

export type EncodeResult = { status: 'done'; bytes: Uint8Array } | { status: 'error'; error: SocksError };

/** Runs an encoder; a SocksError (or any other throw, as ERR_SOCKS_BAD_ADDRESS) becomes an error result. */
export function encodeWith(encode: () => Uint8Array): EncodeResult {
  try {
    return { status: 'done', bytes: encode() };
  } catch (err) {
    const error = err instanceof SocksError ? err : new SocksError(SocksErrorCode.BAD_ADDRESS, String((err as Error)?.message ?? err));
    return { status: 'error', error };
  }
}

/** The bytes of a result, or its error thrown: for encoders whose callers want exceptions. */
export function bytesOrThrow(result: EncodeResult): Uint8Array {
  if (result.status === 'error') throw result.error;
  return result.bytes;
}
