/**
 * `npm run bench`: relay throughput of SOCKS servers on loopback, each as a ratio of a direct loopback TCP copy
 * measured in the same run. The machine is small and noisy: each figure is the median of several runs, and only
 * the ratios mean anything.
 */
import { direct, median, startSource, viaSocks5 } from './throughput.ts';
import { ensureBenchPeers, startDante, startMicrosocks, startOurs, type Peer } from './peers.ts';

const MB = 1024 * 1024;
const BYTES = Number(process.env.BENCH_MB ?? 256) * MB;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function measure(run: () => Promise<{ bytes: number; seconds: number }>): Promise<number> {
  const rates: number[] = [];
  await run(); // warm-up
  for (let i = 0; i < RUNS; i++) {
    const { bytes, seconds } = await run();
    if (bytes !== BYTES) throw new Error(`received ${bytes} of ${BYTES} bytes`);
    rates.push(bytes / MB / seconds);
  }
  return median(rates);
}

async function main(): Promise<void> {
  ensureBenchPeers();
  const source = await startSource(BYTES);
  console.log(`SOCKS5 CONNECT relay throughput, ${BYTES / MB} MB per run, median of ${RUNS}\n`);
  const baseline = await measure(() => direct(source.port));
  const rows: Array<[string, string, string]> = [['direct loopback TCP (baseline)', baseline.toFixed(0), '1.00']];
  const peers: Array<Peer | string> = [await startOurs(), await startMicrosocks(), await startDante()];
  const names = ['wsocks', 'microsocks', 'dante'];
  for (const [i, peer] of peers.entries()) {
    if (typeof peer === 'string') {
      rows.push([`${names[i]} (skipped: ${peer})`, '-', '-']);
      continue;
    }
    try {
      const rate = await measure(() => viaSocks5(peer.port, source.port));
      rows.push([`through ${peer.name}`, rate.toFixed(0), (rate / baseline).toFixed(2)]);
    } finally {
      await peer.stop();
    }
  }
  source.server.close();
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'path'.padEnd(w)}  ${'MB/s'.padStart(7)}  ${'ratio'.padStart(6)}`);
  for (const [name, rate, ratio] of rows) console.log(`${name.padEnd(w)}  ${rate.padStart(7)}  ${ratio.padStart(6)}`);
}

await main();
