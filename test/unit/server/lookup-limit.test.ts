import { describe, expect, it } from 'vitest';
import { limitLookups } from '../../../server/net/lookup-limit.ts';

describe('limitLookups', () => {
  it('counts a lookup until it really ends, not until its caller gives up, and refuses past the bound', async () => {
    const finish: Array<() => void> = [];
    const slow = (host: string) => new Promise<string[]>((resolve) => finish.push(() => resolve([`addr-of-${host}`])));
    const limited = limitLookups(slow, 2, (max) => new Error(`full at ${max}`));
    const gaveUp = new AbortController();
    const a = limited('a.example', gaveUp.signal);
    const b = limited('b.example');
    gaveUp.abort();
    await expect(a).rejects.toMatchObject({ code: 'ERR_TARGET_TIMEOUT' });
    // a's lookup still runs: the bound still holds.
    expect(limited.pending()).toBe(2);
    await expect(limited('c.example')).rejects.toThrow('full at 2');
    expect(limited.pending()).toBe(2);
    finish[0]!();
    finish[1]!();
    expect(await b).toEqual(['addr-of-b.example']);
    await new Promise((r) => setImmediate(r));
    expect(limited.pending()).toBe(0);
    const d = limited('d.example');
    finish[2]!();
    expect(await d).toEqual(['addr-of-d.example']);
  });
});
