import { describe, expect, it } from 'vitest';
import { incompleteUtf8Tail } from '../../web/src/utf8-tail.ts';

describe('incompleteUtf8Tail (holding back split characters for xterm.js)', () => {
  const text = 'aé€🦊z';
  const bytes = new TextEncoder().encode(text);

  it('finds the unfinished sequence at every split point, so both halves decode cleanly', () => {
    for (let k = 0; k <= bytes.length; k++) {
      const head = bytes.subarray(0, k);
      const keep = head.length - incompleteUtf8Tail(head);
      const first = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, keep));
      const rest = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(keep));
      expect(first + rest).toBe(text);
    }
  });

  it('says 0 for complete text, ASCII and empty input', () => {
    expect(incompleteUtf8Tail(bytes)).toBe(0);
    expect(incompleteUtf8Tail(new Uint8Array())).toBe(0);
    expect(incompleteUtf8Tail(Uint8Array.of(0x41))).toBe(0);
    expect(incompleteUtf8Tail(Uint8Array.of(0xf0, 0x9f, 0xa6))).toBe(3);
  });
});
