import { describe, expect, it } from 'vitest';
import { DIRECT_READ_MAX_BYTES, DIRECT_READ_MIN_BYTES, DirectReads } from '../../../server/net/relay.ts';

// Identity is checked with === and not `.not.toBe()`: vitest compares two distinct 256 KiB buffers element by element
// for its failure hint when toBe does not pass, which took seconds (and timed the test out under load).
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
    expect(own === shared).toBe(false);
    expect(own.length).toBe(DIRECT_READ_MAX_BYTES);
    reads.onread.callback(DIRECT_READ_MAX_BYTES / 2, own);
    expect(reads.onread.buffer()).toBe(own); // written at once: reused
    reads.onread.callback(DIRECT_READ_MAX_BYTES / 2, own);
    reads.held(); // this chunk is still queued in its writer
    const fresh = reads.onread.buffer();
    expect(fresh === own).toBe(false);
    expect(fresh.length).toBe(DIRECT_READ_MAX_BYTES);
    reads.onread.callback(100, fresh); // small again: back to the shared buffer
    expect(reads.onread.buffer()).toBe(shared);
    expect(seen).toEqual([DIRECT_READ_MIN_BYTES, DIRECT_READ_MAX_BYTES / 2, DIRECT_READ_MAX_BYTES / 2, 100]);
  });

  it("gives a held buffer, once its holder releases it, to the next connection's large read", () => {
    const a = new DirectReads();
    const b = new DirectReads();
    a.attach(() => true);
    b.attach(() => true);
    const shared = a.onread.buffer();
    a.onread.callback(shared.length, shared);
    const ownA = a.onread.buffer();
    a.onread.callback(DIRECT_READ_MAX_BYTES, ownA);
    const release = a.held();
    expect(a.onread.buffer() === ownA).toBe(false); // still held: a's next read goes elsewhere
    b.onread.callback(shared.length, shared);
    expect(b.onread.buffer() === ownA).toBe(false); // not released yet: nobody reuses it
    release();
    b.onread.callback(DIRECT_READ_MAX_BYTES, b.onread.buffer());
    b.held();
    expect(b.onread.buffer()).toBe(ownA); // released: the next large read of any connection may take it
  });

  it('releases nothing for a chunk that was copied out of the shared buffer', () => {
    const reads = new DirectReads();
    reads.attach(() => true);
    const shared = reads.onread.buffer();
    reads.onread.callback(10, shared);
    reads.held()();
    const other = new DirectReads();
    other.attach(() => true);
    other.onread.callback(shared.length, shared);
    expect(other.onread.buffer() === shared).toBe(false);
  });

  it('passes on what the sink says about pausing', () => {
    const reads = new DirectReads();
    reads.attach(() => false);
    const b = reads.onread.buffer();
    expect(reads.onread.callback(1, b)).toBe(false);
  });

  it('a copied read after a pause with the buffer lent gives back nothing: the lent buffer stays with its holder', () => {
    const reads = new DirectReads();
    const releases: Array<() => void> = [];
    let more = true;
    reads.attach(() => (releases.push(reads.held()), more));
    const first = reads.onread.buffer();
    reads.onread.callback(first.length, first); // fills the shared buffer: the next read gets a buffer of its own
    const own = reads.onread.buffer();
    more = false;
    reads.onread.callback(own.length, own); // lent to a writer, and the socket pauses: the next read is shared
    const shared = reads.onread.buffer();
    more = true;
    reads.onread.callback(shared.length, shared); // a copy: its release must not give `own` back
    releases.at(-1)!();
    // Another connection's large read must not land in `own` while the writer still holds it.
    const other = new DirectReads();
    other.attach(() => true);
    const s = other.onread.buffer();
    other.onread.callback(s.length, s);
    expect(other.onread.buffer() === own).toBe(false);
  });
});
