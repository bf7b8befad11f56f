/**
 * The bytes of a transcript entry. The bridge never sends a password back: a masked field's bytes read `**` in the
 * entry's `hex` and the field says `masked: true` (docs/protocol.md, transcript). The learner's own passwords (the
 * ones the page sent in `via`) are kept by the page and put back here, locally, when the learner asks to see them.
 */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import type { Hop } from '../../shared/protocol/messages.ts';
import { toHex } from '../../shared/socks/address.ts';

/** The byte written in place of a masked byte where bytes must be written (a capture file). */
export const MASK_BYTE = 0x2a;

export interface MaskedRange {
  label: string;
  offset: number;
  length: number;
}

/** The entry's bytes (masked ones as 0x2a) and which ranges are masked. */
export function entryBytes(e: Pick<TranscriptEntry, 'hex' | 'fields'>): { bytes: Uint8Array; masked: MaskedRange[] } {
  const tokens = e.hex.split(' ').filter(Boolean);
  const bytes = Uint8Array.from(tokens, (t) => (t === '**' ? MASK_BYTE : parseInt(t, 16)));
  const masked = e.fields.filter((f) => f.masked === true).map((f) => ({ label: f.label, offset: f.offset, length: f.length }));
  return { bytes, masked };
}

/**
 * The entry with the learner's own password put back: for an RFC 1929 request to a hop the page described itself
 * (`hops[entry.hop - 1]` has a password), when the masked field is as long as that password's UTF-8 bytes. Other
 * entries, and passwords from the bridge's config (the page never had them), come back unchanged.
 */
export function revealOwnPassword(e: TranscriptEntry, hops: readonly Hop[] | undefined): TranscriptEntry {
  if (e.kind !== 'socks5.auth' || !hops || e.hop < 1) return e;
  const password = hops[e.hop - 1]?.password;
  const field = e.fields.find((f) => f.masked === true && f.label === 'PASSWD');
  if (password === undefined || !field) return e;
  const real = new TextEncoder().encode(password);
  if (real.length !== field.length) return e;
  const tokens = e.hex.split(' ');
  tokens.splice(field.offset, field.length, ...toHex(real).split(' ').filter(Boolean));
  const fields = e.fields.map((f) => {
    if (f !== field) return f;
    const { masked: _masked, ...rest } = f;
    return { ...rest, hex: toHex(real), value: password, meaning: 'your own password, as you typed it: sent in clear text (the bridge did not send it back; this page kept it)' };
  });
  return { ...e, hex: tokens.join(' '), fields };
}

/** True when the entry still has masked bytes. */
export function hasMasked(e: Pick<TranscriptEntry, 'fields'>): boolean {
  return e.fields.some((f) => f.masked === true);
}
