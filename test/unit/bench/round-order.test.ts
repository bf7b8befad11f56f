import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../../bench/rounds.ts';

/** How often each (case, position) and each (predecessor, case) pair occurs over `rounds` rounds of `n` cases. */
function counts(n: number, rounds: number) {
  const positions = new Map<string, number>();
  const after = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    const order = roundOrder(n, r);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i)); // a permutation
    order.forEach((c, p) => positions.set(`${c}@${p}`, (positions.get(`${c}@${p}`) ?? 0) + 1));
    for (let p = 1; p < n; p++) after.set(`${order[p - 1]}>${order[p]}`, (after.get(`${order[p - 1]}>${order[p]}`) ?? 0) + 1);
  }
  return { positions, after };
}

describe('roundOrder (balanced Latin square)', () => {
  for (const n of [2, 4, 6, 8]) {
    it(`${n} cases, ${n} rounds: each case once in each position and once after each other case`, () => {
      const { positions, after } = counts(n, n);
      expect(positions.size).toBe(n * n);
      expect([...positions.values()].every((k) => k === 1)).toBe(true);
      expect(after.size).toBe(n * (n - 1));
      expect([...after.values()].every((k) => k === 1)).toBe(true);
    });
  }
  for (const n of [3, 5, 7]) {
    it(`${n} cases, ${2 * n} rounds: each case twice in each position and twice after each other case`, () => {
      const { positions, after } = counts(n, 2 * n);
      expect(positions.size).toBe(n * n);
      expect([...positions.values()].every((k) => k === 2)).toBe(true);
      expect(after.size).toBe(n * (n - 1));
      expect([...after.values()].every((k) => k === 2)).toBe(true);
    });
  }
  it('one case runs alone', () => {
    expect(roundOrder(1, 0)).toEqual([0]);
    expect(roundOrder(1, 3)).toEqual([0]);
  });
});
