import { describe, expect, it } from 'vitest';
import { DIRECT_READ_MAX_BYTES, DIRECT_READ_MIN_BYTES, DirectReads } from '../../../server/net/relay.ts';

describe('DirectReads (the relay reading into a reused buffer)', () => {
  it('keeps a copy of reads that come before a sink and pauses the socket', () => {
    const reads = new DirectReads();
    const buffer = reads.onread.buffer();
    buffer.write('early', 'latin1');
    expect(reads.onread.callback(5, buffer)).toBe(false);
    buffer.write('XXXXX', 'latin1'); // the next read lands in the same buffer
    const early = reads.attach(() => true);
    expect(early.map((b) => b.toString('latin1'))).toEqual(['early']);
  });

  it('reuses the buffer after a chunk went out, and hands out a fresh one while a writer still holds it', () => {
    const reads = new DirectReads();
    const seen: string[] = [];
    reads.attach((chunk) => (seen.push(chunk.toString('latin1')), true));
    const first = reads.onread.buffer();
    first.write('abc', 'latin1');
    expect(reads.onread.callback(3, first)).toBe(true);
    expect(reads.onread.buffer()).toBe(first); // written at once: reused
    reads.onread.callback(2, first);
    reads.held(); // this chunk is still queued in its writer
    const second = reads.onread.buffer();
    expect(second).not.toBe(first);
    expect(second.length).toBe(DIRECT_READ_MIN_BYTES);
    expect(seen).toEqual(['abc', 'ab']);
  });

  it('passes on what the sink says about pausing', () => {
    const reads = new DirectReads();
    reads.attach(() => false);
    const b = reads.onread.buffer();
    expect(reads.onread.callback(1, b)).toBe(false);
  });

  it('grows its buffer when a read fills it and shrinks it when reads are small again', () => {
    const reads = new DirectReads();
    reads.attach(() => true);
    const small = reads.onread.buffer();
    expect(small.length).toBe(DIRECT_READ_MIN_BYTES);
    reads.onread.callback(small.length, small);
    const big = reads.onread.buffer();
    expect(big.length).toBe(DIRECT_READ_MAX_BYTES);
    reads.onread.callback(DIRECT_READ_MIN_BYTES, big); // not full, not small: stays
    expect(reads.onread.buffer()).toBe(big);
    reads.onread.callback(100, big);
    expect(reads.onread.buffer().length).toBe(DIRECT_READ_MIN_BYTES);
  });
});
