import { describe, expect, it } from 'vitest';
import { DIRECT_READ_MAX_BYTES, DIRECT_READ_MIN_BYTES, DirectReads } from '../../../server/net/relay.ts';

describe('DirectReads (the relay reading into reused buffers)', () => {
  it('keeps a copy of reads that come before a sink and pauses the socket', () => {
    const reads = new DirectReads();
    const buffer = reads.onread.buffer();
    buffer.write('early', 'latin1');
    expect(reads.onread.callback(5, buffer)).toBe(false);
    buffer.write('XXXXX', 'latin1'); // the next read lands in the same buffer
    const early = reads.attach(() => true);
    expect(early.map((b) => b.toString('latin1'))).toEqual(['early']);
  });

  it('copies small reads out of the buffer every connection shares', () => {
    const a = new DirectReads();
    const b = new DirectReads();
    const got: Buffer[] = [];
    a.attach((chunk) => (got.push(chunk), true));
    b.attach(() => true);
    const shared = a.onread.buffer();
    expect(b.onread.buffer()).toBe(shared);
    expect(shared.length).toBe(DIRECT_READ_MIN_BYTES);
    shared.write('abc', 'latin1');
    a.onread.callback(3, shared);
    shared.write('XYZ', 'latin1'); // b's read lands in the same buffer
    b.onread.callback(3, shared);
    expect(got[0]!.toString('latin1')).toBe('abc');
  });

  it('gives a connection whose reads fill the shared buffer its own, reused while no writer holds it', () => {
    const reads = new DirectReads();
    const seen: number[] = [];
    reads.attach((chunk) => (seen.push(chunk.length), true));
    const shared = reads.onread.buffer();
    reads.onread.callback(shared.length, shared);
    const own = reads.onread.buffer();
    expect(own).not.toBe(shared);
    expect(own.length).toBe(DIRECT_READ_MAX_BYTES);
    reads.onread.callback(DIRECT_READ_MAX_BYTES / 2, own);
    expect(reads.onread.buffer()).toBe(own); // written at once: reused
    reads.onread.callback(DIRECT_READ_MAX_BYTES / 2, own);
    reads.held(); // this chunk is still queued in its writer
    const fresh = reads.onread.buffer();
    expect(fresh).not.toBe(own);
    expect(fresh.length).toBe(DIRECT_READ_MAX_BYTES);
    reads.onread.callback(100, fresh); // small again: back to the shared buffer
    expect(reads.onread.buffer()).toBe(shared);
    expect(seen).toEqual([DIRECT_READ_MIN_BYTES, DIRECT_READ_MAX_BYTES / 2, DIRECT_READ_MAX_BYTES / 2, 100]);
  });

  it('passes on what the sink says about pausing', () => {
    const reads = new DirectReads();
    reads.attach(() => false);
    const b = reads.onread.buffer();
    expect(reads.onread.callback(1, b)).toBe(false);
  });
});
