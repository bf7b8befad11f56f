/**
 * Interleaved rounds: every case runs once per round, so that the machine's noise (other processes on a small, shared
 * machine) falls on all of them alike. A run that throws or loses data counts as a failure of its case; the figures
 * are medians with min and max over the runs that succeeded.
 *
 * Against position bias (a case measured right after another inherits its leftovers), each round's order is a row of
 * a balanced Latin square (every case in every position, and after every other case, equally often over the rounds),
 * and before each run the bench settles: it collects its own garbage and waits until it and every process it started
 * (the servers, the loopback process) are idle. BENCH_ORDER=rotate and BENCH_SETTLE=0 give the bench's earlier way
 * (one rotation per round, no settling), for A/A comparisons.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { descendants, totalCpuSeconds } from './processes.ts';

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
  const settling = process.env.BENCH_SETTLE !== '0';
  const rotate = process.env.BENCH_ORDER === 'rotate';
  const verbose = Boolean(process.env.BENCH_VERBOSE);
  // Warm-up, not counted.
  for (const c of cases) {
    if (settling) await settle();
    await withTimeout(c.run(), c.timeoutS ?? Number(process.env.BENCH_RUN_TIMEOUT_S ?? 300)).catch(() => {});
  }
  for (let r = 0; r < rounds; r++) {
    const order = rotate ? cases.map((_, i) => cases[(i + r) % cases.length]!) : roundOrder(cases.length, r).map((i) => cases[i]!);
    for (const [position, c] of order.entries()) {
      const res = results.get(c.name)!;
      if (settling) await settle();
      const ownBefore = process.cpuUsage();
      try {
        const t = await withTimeout(c.run(), c.timeoutS ?? Number(process.env.BENCH_RUN_TIMEOUT_S ?? 300));
        const own = process.cpuUsage(ownBefore);
        if (t.bytes !== t.expected) throw new Error(`received ${t.bytes} of ${t.expected} bytes`);
        const rate = t.bytes / (c.unit ?? MiB) / t.seconds;
        res.rates.push(rate);
        const cpu = t.cpu !== undefined ? t.cpu / (t.bytes / (c.unit === 1 ? 1000 : 1024 * MiB)) : undefined;
        if (cpu !== undefined) res.cpuPerGiB.push(cpu);
        if (t.fairness !== undefined) res.fairness.push(t.fairness);
        if (verbose) {
          const perUnit = (seconds: number) => (seconds / (t.bytes / (c.unit === 1 ? 1000 : 1024 * MiB))).toFixed(2);
          const bench = perUnit((own.user + own.system) / 1e6);
          log(`    round ${r + 1} #${position + 1} ${c.name}: ${rate.toFixed(1)}${cpu !== undefined ? ` cpu ${cpu.toFixed(2)}` : ''} bench-cpu ${bench}`);
        }
      } catch (err) {
        res.rates.push(NaN);
        res.failures.push((err as Error).message);
        if (verbose) log(`    round ${r + 1} #${position + 1} ${c.name}: failed: ${(err as Error).message}`);
      }
    }
    log(`  round ${r + 1}/${rounds} done`);
  }
  return results;
}

/**
 * The order of `n` cases in round `r`: row r of a balanced Latin square (Williams design). Row 0 is 0, 1, n-1, 2,
 * n-2, ...; row r adds r to each (mod n). Over n rounds every case runs once in each position and, for even n,
 * directly after each other case once; for odd n the rows of the second n rounds are the first n reversed, which
 * balances the predecessors over 2n rounds.
 */
export function roundOrder(n: number, r: number): number[] {
  const first = Array.from({ length: n }, (_, i) => (i % 2 === 1 ? (i + 1) / 2 : (n - i / 2) % n));
  const row = first.map((c) => (c + r) % n);
  return n % 2 === 1 && Math.floor(r / n) % 2 === 1 ? row.reverse() : row;
}

/** Most of a second the bench waits for quiet before a run, at most. */
const SETTLE_MAX_MS = 1000;
/** Quiet: the bench and its processes used at most one clock tick (10 ms) of CPU together over this many ms. */
const QUIET_MS = 50;

let gc: (() => void) | undefined;

/**
 * Before a run: a full garbage collection of the bench process (the previous case's garbage is not collected during
 * this one), then a wait (at most SETTLE_MAX_MS) until the bench and every process it started are idle (a server
 * still closing or collecting after the previous case does not share the cores with this one). Other people's
 * processes are not waited for: their load is the machine's noise, spread over the cases by the rounds.
 */
export async function settle(): Promise<void> {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  const pids = [process.pid, ...descendants()];
  const deadline = Date.now() + SETTLE_MAX_MS;
  let before = totalCpuSeconds(pids);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const now = totalCpuSeconds(pids);
    if (now - before <= 0.01) return;
    before = now;
  }
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
