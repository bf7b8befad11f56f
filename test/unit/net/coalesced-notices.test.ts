import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoalescedNotices } from '../../../server/net/coalesced-notices.ts';

describe('CoalescedNotices', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (perSecond: number) => {
    const out: Array<[number, number]> = [];
    const n = new CoalescedNotices<number>(perSecond, (item, folded) => out.push([item, folded]), () => Date.now());
    return { n, out };
  };

  it('lets `perSecond` through at once, then holds the rest and sends one for the latest when the second ends', () => {
    const { n, out } = make(3);
    for (let i = 1; i <= 1000; i++) n.push(i);
    expect(out).toEqual([[1, 0], [2, 0], [3, 0]]);
    vi.advanceTimersByTime(999);
    expect(out).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(out).toEqual([[1, 0], [2, 0], [3, 0], [1000, 996]]);
    // The flush opened a new window with one notice in it: two more go at once, the next is held again.
    n.push(1001);
    n.push(1002);
    n.push(1003);
    expect(out.slice(4)).toEqual([[1001, 0], [1002, 0]]);
    vi.advanceTimersByTime(1000);
    expect(out.slice(6)).toEqual([[1003, 0]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends at most perSecond + 1 a second under a steady flood, and every push is accounted for', () => {
    const { n, out } = make(10);
    for (let ms = 0; ms < 10_000; ms++) {
      n.push(ms);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(1000);
    expect(out.length).toBeLessThanOrEqual(10 * 11 + 1);
    expect(out.reduce((sum, [, folded]) => sum + 1 + folded, 0)).toBe(10_000);
    expect(out.at(-1)![0]).toBe(9_999);
  });

  it('a quiet stream gets every notice at once', () => {
    const { n, out } = make(2);
    for (let i = 0; i < 5; i++) {
      n.push(i);
      vi.advanceTimersByTime(1000);
    }
    expect(out).toEqual([0, 1, 2, 3, 4].map((i) => [i, 0]));
  });

  it('close() clears its timer and drops what it held', () => {
    const { n, out } = make(1);
    n.push(1);
    n.push(2);
    expect(vi.getTimerCount()).toBe(1);
    n.close();
    expect(vi.getTimerCount()).toBe(0);
    n.push(3);
    vi.advanceTimersByTime(5000);
    expect(out).toEqual([[1, 0]]);
  });
});
