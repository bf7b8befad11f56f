/**
 * `npm run fuzz [-- --inputs N] [--seed S]` (or FUZZ_INPUTS / FUZZ_SEED): the bridge fuzz of test/fuzz/bridge-fuzz.ts
 * with 10^6 inputs by default. Exits 1 on the first failure, printing it.
 */
import { runFuzz } from '../test/fuzz/bridge-fuzz.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

const inputs = Number(arg('inputs') ?? process.env.FUZZ_INPUTS ?? 1_000_000);
const seed = Number(arg('seed') ?? process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
if (!Number.isInteger(inputs) || inputs < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--inputs N] [--seed S]');
  process.exit(2);
}
console.log(`fuzzing a live bridge with ${inputs} inputs, seed ${seed}`);
const started = performance.now();
try {
  const report = await runFuzz({ inputs, seed, progress: (line) => console.log(line) });
  console.log(JSON.stringify(report, null, 2));
  if (report.peakBufferedBytes > report.bufferBound) throw new Error('buffer bound exceeded');
  console.log(`ok: ${report.inputs} inputs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // getaddrinfo lookups of random names (at most maxPendingLookups each in the bridge and the SOCKS server) can
  // outlive the run by the system resolver's timeout; they cannot be cancelled, so do not wait for them.
  process.exit(0);
} catch (err) {
  console.error(`FAILED (seed ${seed}): ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
