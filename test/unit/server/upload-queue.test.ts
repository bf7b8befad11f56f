import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HOLD_MIN_BYTES, UploadQueue } from '../../../server/bridge/upload-queue.ts';

const joined = (chunks: Uint8Array[]) => Buffer.concat(chunks);

describe('UploadQueue (client bytes waiting for the target socket)', () => {
  it('gives back every byte in order, small and large messages mixed', () => {
    const q = new UploadQueue();
    const parts = [randomBytes(10), randomBytes(HOLD_MIN_BYTES), randomBytes(3), randomBytes(5), randomBytes(HOLD_MIN_BYTES + 7), randomBytes(70_000), randomBytes(1)];
    for (const p of parts) q.push(p);
    expect(q.length).toBe(parts.reduce((a, p) => a + p.length, 0));
    const out = q.take();
    expect(joined(out).equals(Buffer.concat(parts))).toBe(true);
    expect(q.length).toBe(0);
    expect(q.take()).toEqual([]);
  });

  it('keeps a large message as it came (no copy), and copies small ones (the sender may reuse its buffer)', () => {
    const q = new UploadQueue();
    const small = Buffer.from('small');
    const large = randomBytes(HOLD_MIN_BYTES);
    q.push(small);
    q.push(large);
    small.write('XXXXX');
    const out = q.take();
    expect(out).toHaveLength(2);
    expect(Buffer.from(out[0]!).toString()).toBe('small');
    expect(out[1]).toBe(large);
  });

  it('packs small messages into few blocks: 1-byte messages do not become a chunk each', () => {
    const q = new UploadQueue();
    const data = randomBytes(200_000);
    for (let i = 0; i < data.length; i++) q.push(data.subarray(i, i + 1));
    const out = q.take();
    expect(out.length).toBeLessThanOrEqual(4);
    expect(joined(out).equals(data)).toBe(true);
  });

  it('small messages after a large one go into a new block behind it', () => {
    const q = new UploadQueue();
    q.push(Buffer.from('a'));
    const large = randomBytes(HOLD_MIN_BYTES + 1);
    q.push(large);
    q.push(Buffer.from('b'));
    q.push(Buffer.from('c'));
    const out = q.take();
    expect(out.map((c) => c.length)).toEqual([1, large.length, 2]);
    expect(joined(out).equals(Buffer.concat([Buffer.from('a'), large, Buffer.from('bc')]))).toBe(true);
  });
});
