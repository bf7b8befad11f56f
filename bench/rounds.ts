/**
 * Interleaved rounds: every case runs once per round, in a rotated order, so that the machine's noise (other
 * processes on a small, shared machine) falls on all of them alike. A run that throws or loses data counts as a
 * failure of its case; the figures are medians with min and max over the runs that succeeded.
 */

/** What one run of a case measured: bytes moved in `seconds`; `expected` bytes should have arrived. */
export interface Transfer {
  bytes: number;
  expected: number;
  seconds: number;
  /** CPU seconds the server process spent on this run, where measured. */
  cpu?: number;
  /** Of several streams at once: the slowest one's bytes over the mean when the first one finished. */
  fairness?: number;
}

export interface Case {
  name: string;
  /** Seconds a run may take before it counts as failed (stalled); default BENCH_RUN_TIMEOUT_S or 300. */
  timeoutS?: number;
  /** Bytes per unit of the rate: MiB by default (MiB/s); 1 to count things per second. */
  unit?: number;
  run(): Promise<Transfer>;
}

export interface CaseResult {
  name: string;
  /** MiB/s of each round's run; NaN where it failed. */
  rates: number[];
  /** CPU seconds per GiB of each successful run that measured CPU (per 1000 units for a case counting things). */
  cpuPerGiB: number[];
  fairness: number[];
  failures: string[];
}

const MiB = 1024 * 1024;

export async function interleave(all: Case[], rounds: number, log = (_line: string) => {}): Promise<Map<string, CaseResult>> {
  // BENCH_SKIP: comma-separated case names left out (e.g. a peer known to stall, while profiling the bridge).
  const skip = process.env.BENCH_SKIP?.split(',') ?? [];
  const cases = all.filter((c) => !skip.includes(c.name));
  const results = new Map<string, CaseResult>(cases.map((c) => [c.name, { name: c.name, rates: [], cpuPerGiB: [], fairness: [], failures: [] }]));
  // Warm-up, not counted.
  for (const c of cases) await withTimeout(c.run(), c.timeoutS ?? Number(process.env.BENCH_RUN_TIMEOUT_S ?? 300)).catch(() => {});
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
    for (const c of order) {
      const res = results.get(c.name)!;
      if (process.env.BENCH_VERBOSE) log(`    ${c.name}...`);
      try {
        const t = await withTimeout(c.run(), c.timeoutS ?? Number(process.env.BENCH_RUN_TIMEOUT_S ?? 300));
        if (t.bytes !== t.expected) throw new Error(`received ${t.bytes} of ${t.expected} bytes`);
        res.rates.push(t.bytes / (c.unit ?? MiB) / t.seconds);
        if (t.cpu !== undefined) res.cpuPerGiB.push(t.cpu / (t.bytes / (c.unit === 1 ? 1000 : 1024 * MiB)));
        if (t.fairness !== undefined) res.fairness.push(t.fairness);
      } catch (err) {
        res.rates.push(NaN);
        res.failures.push((err as Error).message);
      }
    }
    log(`  round ${r + 1}/${rounds} done`);
  }
  return results;
}

/** Rejects with "stalled" when `run` has not settled after `seconds` (a peer that deadlocks must not hang the bench). */
function withTimeout<T>(run: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stalled: not done after ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([run, stalled]).finally(() => clearTimeout(timer));
}

export interface Summary {
  median: number;
  min: number;
  max: number;
}

/** Median, min and max of the finite values (failed runs are NaN). */
export function summarize(xs: number[]): Summary | undefined {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

export function median(xs: number[]): number {
  return summarize(xs)?.median ?? NaN;
}

/** `median (min-max)` with `digits` decimals, or `-`. */
export function fmt(s: Summary | undefined, digits = 0): string {
  if (!s) return '-';
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

/** Each round's rate over the same round's rate of `base`; a case with a failed run has no ratio. */
export function ratios(of: CaseResult, base: CaseResult): Summary | undefined {
  if (of.failures.length > 0) return undefined;
  return summarize(of.rates.map((r, i) => r / (base.rates[i] ?? NaN)));
}

export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
