import { describe, expect, it } from 'vitest';
import { DirectReads } from '../../../server/net/relay.ts';

describe('DirectReads (the relay reading into a reused buffer)', () => {
  it('keeps a copy of reads that come before a sink and pauses the socket', () => {
    const reads = new DirectReads(16);
    const buffer = reads.onread.buffer();
    buffer.write('early', 'latin1');
    expect(reads.onread.callback(5, buffer)).toBe(false);
    buffer.write('XXXXX', 'latin1'); // the next read lands in the same buffer
    const early = reads.attach(() => true);
    expect(early.map((b) => b.toString('latin1'))).toEqual(['early']);
  });

  it('reuses the buffer after a chunk went out, and hands out a fresh one while a writer still holds it', () => {
    const reads = new DirectReads(16);
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
    expect(second.length).toBe(16);
    expect(seen).toEqual(['abc', 'ab']);
  });

  it('passes on what the sink says about pausing', () => {
    const reads = new DirectReads(16);
    reads.attach(() => false);
    const b = reads.onread.buffer();
    expect(reads.onread.callback(1, b)).toBe(false);
  });
});
