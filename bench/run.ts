/**
 * `npm run bench`: relay throughput of SOCKS servers on loopback, each as a ratio of a direct loopback TCP copy
 * measured in the same run. The machine is small and noisy: each figure is the median of several runs, and only
 * the ratios mean anything.
 */
import { direct, median, startSource, viaSocks5 } from './throughput.ts';
import { ensureBenchPeers, startDante, startMicrosocks, startOurs, type NamedPeer } from './peers.ts';
import {
  directSocksOpenTime,
  memoryPerIdleStream,
  openTime,
  startBridgeProcess,
  startSilentTarget,
  throughBridge,
} from './bridge.ts';
import { openSession } from '../test/helpers/bridge.ts';

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
  const peers: Array<NamedPeer | string> = [await startOurs(), await startMicrosocks(), await startDante()];
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
  printTable(['path', 'MB/s', 'ratio'], rows);

  console.log(`\nOne stream through the wsocks bridge (WebSocket + credits), same source, median of ${RUNS}\n`);
  const bridge = await startBridgeProcess();
  const hop = await startOurs();
  try {
    const session = await openSession(bridge.url, { window: 1024 * 1024 });
    const via = [{ type: 'socks5' as const, host: '127.0.0.1', port: hop.port }];
    const viaDirect = await measure(() => throughBridge(session, source.port));
    const viaHop = await measure(() => throughBridge(session, source.port, via));
    printTable(
      ['path', 'MB/s', 'ratio'],
      [
        ['direct loopback TCP (baseline)', baseline.toFixed(0), '1.00'],
        ['bridge, direct stream', viaDirect.toFixed(0), (viaDirect / baseline).toFixed(2)],
        ['bridge, through one SOCKS5 hop (wsocks)', viaHop.toFixed(0), (viaHop / baseline).toFixed(2)],
      ],
    );

    const opens: number[] = [];
    const directs: number[] = [];
    for (let i = 0; i < 50; i++) {
      directs.push(await directSocksOpenTime(hop.port, source.port));
      opens.push(await openTime(session, source.port, via));
    }
    const d = median(directs);
    const o = median(opens);
    console.log(`\nTime to open a stream through one SOCKS5 hop, median of 50\n`);
    printTable(
      ['path', 'ms', 'ratio'],
      [
        ['npm socks client straight to the hop (baseline)', d.toFixed(2), '1.00'],
        ['browser client -> bridge -> hop', o.toFixed(2), (o / d).toFixed(2)],
      ],
    );
    session.close();

    console.log('\nBridge memory per idle stream (RSS growth of the bridge process)\n');
    const target = await startSilentTarget();
    const mem: Array<[string, string, string]> = [];
    for (const n of [1000, 10000]) {
      // A fresh bridge process for each count, so that the earlier runs' heap does not blur the figure.
      const fresh = await startBridgeProcess();
      try {
        const kib = await memoryPerIdleStream(fresh, target.port, n);
        mem.push([`${n} idle streams`, kib.toFixed(1), '-']);
      } finally {
        await fresh.stop();
      }
    }
    target.close();
    printTable(['streams', 'KiB/stream', ''], mem);
  } finally {
    await hop.stop();
    await bridge.stop();
    source.server.close();
  }
}

function printTable(head: [string, string, string], rows: Array<[string, string, string]>): void {
  const w = Math.max(head[0].length, ...rows.map((r) => r[0].length));
  console.log(`${head[0].padEnd(w)}  ${head[1].padStart(10)}  ${head[2].padStart(6)}`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w)}  ${b.padStart(10)}  ${c.padStart(6)}`);
}

await main();
