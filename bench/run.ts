/**
 * `npm run bench`: the bridge and our SOCKS server side by side with their peers (websockify, wisp-js, Dante,
 * microsocks) and a direct loopback TCP copy, all in one run. Every server runs in its own process, and so do the
 * loopback targets (the download source, the upload sink, the silent target: bench/loopback-child.ts), apart from
 * the clients in the bench process; the cases of a table run in interleaved rounds, in a balanced order, each after
 * the bench and its processes have settled (bench/rounds.ts); figures are medians with (min-max); ratios are taken
 * round by round. Every byte is counted: a run that loses data is a failure of its case. Only loopback is used.
 *
 * Env: BENCH_MB (MiB per single-stream run, default 128), BENCH_ROUNDS (default 5), BENCH_STREAMS (concurrent
 * streams, default 64), BENCH_STREAM_MB (MiB per concurrent stream, default 8), BENCH_CONNECTS (CONNECTs per
 * connection-rate run, default 2000), BENCH_ONLY (comma-separated section names: download, upload, many, socks,
 * connects, misc). `BENCH_MB=32 BENCH_ROUNDS=3` runs in about 2 minutes.
 * BENCH_BASE=DIR (another checkout with node_modules, e.g. `git archive` of an older commit) adds "bridge (base)"
 * cases, its bridge and client library, to the bridge tables, and "wsocks (base)", its SOCKS server, to the socks and
 * connects tables: before/after figures from one run. Several comma-separated DIRs add "bridge (base)", "bridge
 * (base 2)"... and "wsocks (base)", "wsocks (base 2)"... (variants side by side in one run).
 * BENCH_SKIP=NAME,... leaves cases out (e.g. `wisp-js` while profiling); BENCH_BRIDGE_NODE_ARGS passes node options
 * to the bridge process (`--cpu-prof --cpu-prof-dir=DIR`: NODE_OPTIONS refuses --cpu-prof), BENCH_SOCKS_NODE_ARGS to
 * our SOCKS server's, BENCH_LOOPBACK_NODE_ARGS to the loopback process. BENCH_SOURCE_ENDS=1: the 64-stream source
 * ends its connections itself (see the many section).
 * BENCH_LOOPBACK=inline: the loopback targets run in the bench process, next to the clients (how the bench ran
 * before; docs/performance.md compares the two). BENCH_ORDER=rotate and BENCH_SETTLE=0: the rounds' earlier order
 * (one rotation per round) and no settling between runs. BENCH_FRESH_SESSION=1: a fresh session before each run of a
 * bridge case instead of one per bridge for the whole run. BENCH_VERBOSE=1: every run's rate, server CPU and the bench process's
 * CPU on stderr.
 */
import type { Session } from '../web/client/index.ts';
import { openSession } from '../test/helpers/bridge.ts';
import { connectRate, direct, directUpload, viaSocks5 } from './throughput.ts';
import { startLoopback } from './loopback-process.ts';
import { tsxTsconfig } from './node-args.ts';
import { tsImport } from 'tsx/esm/api';
import { cpuSeconds, descendants } from './processes.ts';
import { ensureBenchPeers, startDante, startMicrosocks, startOurs, startWebsockify, startWisp, type NamedPeer } from './peers.ts';
import { type RunningBridge, concurrentDownloads, directSocksOpenTime, memoryPerIdleStream, openTime, startBridgeProcess, stalledReaderGrowth, throughBridge, uploadThroughBridge } from './bridge.ts';
import { bareBridgeDownload, websockifyDownload, websockifyUpload, wispConnect, wispDownload, wispUpload } from './websocket-peers.ts';
import { fmt, interleave, median, printTable, ratios, summarize, type Case, type CaseResult, type Transfer } from './rounds.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MB ?? 128) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 64);
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 8);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 2000);
const ONLY = process.env.BENCH_ONLY?.split(',');
const BASES = process.env.BENCH_BASE ? process.env.BENCH_BASE.split(',') : [];
/**
 * With two or more BENCH_BASE checkouts, the bridge tables also give ratios to "bridge (base)": old and new as two base
 * rows, a cross-check of the `bridge` row (docs/performance.md, "Position bias").
 */
const BASE_VS = BASES.length > 1 ? ['bridge (base)'] : [];
/** The 64-stream source ends each connection itself (BENCH_SOURCE_ENDS=1) instead of waiting for the client to close. */
const SOURCE_ENDS = process.env.BENCH_SOURCE_ENDS === '1';
const want = (section: string) => !ONLY || ONLY.includes(section);
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** Runs `run` and adds the CPU seconds process `pid` spent meanwhile (websockify forks per connection: not measured). */
function withCpu(pid: number | undefined, run: () => Promise<{ bytes: number; seconds: number }>, expected: number): () => Promise<Transfer> {
  return async () => {
    const before = pid ? cpuSeconds(pid) : 0;
    const t = await run();
    return { ...t, expected, ...(pid ? { cpu: cpuSeconds(pid) - before } : {}) };
  };
}

/** Rows of `results`: rate, ratio to `base` and to any `vs` cases, CPU per GiB, failures. */
function report(title: string, results: Map<string, CaseResult>, base: string, vs: string[], unit = 'MiB/s'): void {
  console.log(`\n${title}\n`);
  const b = results.get(base); // absent when BENCH_SKIP left it out
  const head = ['path', unit, `x ${base}`, ...vs.map((v) => `x ${v}`), unit === 'per s' ? 'server CPU ms each' : 'server CPU s/GiB', 'fairness', 'failed'];
  const rows = [...results.values()].map((r) => [
    r.name,
    fmt(summarize(r.rates)),
    r === b ? '1' : b ? fmt(ratios(r, b), 2) : '-',
    ...vs.map((v) => (r.name === v || !results.has(v) ? '' : fmt(ratios(r, results.get(v)!), 2))),
    fmt(summarize(r.cpuPerGiB), 2),
    fmt(summarize(r.fairness), 2),
    r.failures.length ? `${r.failures.length}/${r.rates.length}: ${r.failures[0]}` : '0',
  ]);
  printTable(head, rows);
}

/** A bridge and the client library that talks to it (this checkout's, or a BENCH_BASE's), and its current session. */
interface Variant {
  label: string;
  bridge: RunningBridge;
  open: typeof openSession;
  session: Session;
}

/**
 * With BENCH_FRESH_SESSION=1, gives each run of `run` a session of its own, opened before the run (not timed, not in
 * its CPU window) after the previous one has closed, instead of one session per variant for the whole bench: an
 * experiment against the `bridge` row's bias in A/A runs (docs/performance.md, "Position bias"; it did not remove it).
 */
function fresh(v: Variant, run: () => Promise<Transfer>): () => Promise<Transfer> {
  if (process.env.BENCH_FRESH_SESSION !== '1') return run;
  return async () => {
    v.session.close();
    await v.session.closed.catch(() => {});
    v.session = await v.open(v.bridge.url);
    return run();
  };
}

const log = (line: string) => process.stderr.write(line + '\n');
// wisp-js's client warns on stderr about packets for streams it has closed (a normal race): keep the output readable.
console.warn = () => {};

/**
 * An interrupted run (Ctrl-C, SIGTERM) takes the servers it started with it: every process descended from this one,
 * found through /proc (some are started inside a section and are not in `stopAll` yet).
 */
function stopDescendants(signal: NodeJS.Signals): void {
  for (const pid of descendants()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopDescendants(signal));

async function main(): Promise<void> {
  ensureBenchPeers();
  console.log(`wsocks bench: ${SIZE / MiB} MiB per stream, ${ROUNDS} interleaved rounds (+1 warm-up), node ${process.version}`);
  const loopback = await startLoopback();
  const stopAll: Array<() => Promise<void> | void> = [() => loopback.stop()];
  try {
    const source = await loopback.source(SIZE);
    const sink = await loopback.sink();
    stopAll.push(() => source.close(), () => sink.close());
    const bridge = await startBridgeProcess();
    stopAll.push(() => bridge.stop());
    const hop = await startOurs();
    stopAll.push(() => hop.stop());
    const wisp = await startWisp();
    if (typeof wisp !== 'string') stopAll.push(() => wisp.stop());
    else log(`wisp-js skipped: ${wisp}`);
    const main: Variant = { label: '', bridge, open: openSession, session: await openSession(bridge.url) };
    stopAll.push(() => main.session.close());
    const wispConn = typeof wisp === 'string' ? undefined : await wispConnect(`ws://127.0.0.1:${wisp.port}/`);
    if (wispConn) stopAll.push(() => wispConn.close());
    const via = [{ type: 'socks5' as const, host: '127.0.0.1', port: hop.port }];
    const bases: Variant[] = [];
    for (const [i, dir] of BASES.entries()) {
      const baseBridge = await startBridgeProcess({}, {}, dir);
      stopAll.push(() => baseBridge.stop());
      // Compiled with that checkout's tsconfig, as this checkout's client library is (tsx applies the tsconfig of the
      // working directory to the files it includes only): see tsxTsconfig().
      const helpers = (await tsImport(`${dir}/test/helpers/bridge.ts`, { parentURL: import.meta.url, tsconfig: tsxTsconfig(dir).TSX_TSCONFIG_PATH })) as { openSession: typeof openSession };
      const base: Variant = { label: i === 0 ? 'base' : `base ${i + 1}`, bridge: baseBridge, open: helpers.openSession, session: await helpers.openSession(baseBridge.url) };
      bases.push(base);
      stopAll.push(() => base.session.close());
    }

    if (want('download')) {
      const ws = await startWebsockify(source.port);
      if (typeof ws !== 'string') stopAll.push(() => ws.stop());
      const cases: Case[] = [
        { name: 'direct TCP', run: withCpu(undefined, () => direct(source.port), SIZE) },
        { name: 'bridge', run: fresh(main, withCpu(bridge.pid, () => throughBridge(main.session, source.port), SIZE)) },
        { name: 'bridge + SOCKS5 hop', run: fresh(main, withCpu(bridge.pid, () => throughBridge(main.session, source.port, via), SIZE)) },
        { name: 'bridge, bare ws client', run: withCpu(bridge.pid, () => bareBridgeDownload(bridge.url, source.port), SIZE) },
      ];
      for (const base of bases) {
        cases.push({ name: `bridge (${base.label})`, run: fresh(base, withCpu(base.bridge.pid, () => throughBridge(base.session, source.port), SIZE)) });
        cases.push({ name: `bridge + SOCKS5 hop (${base.label})`, run: fresh(base, withCpu(base.bridge.pid, () => throughBridge(base.session, source.port, via), SIZE)) });
      }
      if (typeof ws !== 'string') cases.push({ name: 'websockify', run: withCpu(undefined, () => websockifyDownload(`ws://127.0.0.1:${ws.port}/`), SIZE) });
      if (wispConn && typeof wisp !== 'string') cases.push({ name: 'wisp-js', run: withCpu(wisp.pid, () => wispDownload(wispConn, source.port), SIZE) });
      report('One stream, download (target -> client)', await interleave(cases, ROUNDS, log), 'direct TCP', ['bridge', ...BASE_VS, 'websockify', 'wisp-js']);
    }

    if (want('upload')) {
      const ws = await startWebsockify(sink.port);
      if (typeof ws !== 'string') stopAll.push(() => ws.stop());
      const cases: Case[] = [
        { name: 'direct TCP', run: withCpu(undefined, () => directUpload(sink, SIZE, CHUNK), SIZE) },
        { name: 'bridge', run: fresh(main, withCpu(bridge.pid, () => uploadThroughBridge(main.session, sink, SIZE, CHUNK), SIZE)) },
      ];
      for (const base of bases) cases.push({ name: `bridge (${base.label})`, run: fresh(base, withCpu(base.bridge.pid, () => uploadThroughBridge(base.session, sink, SIZE, CHUNK), SIZE)) });
      if (typeof ws !== 'string') cases.push({ name: 'websockify', run: withCpu(undefined, () => websockifyUpload(`ws://127.0.0.1:${ws.port}/`, sink, SIZE, CHUNK), SIZE) });
      if (wispConn && typeof wisp !== 'string') cases.push({ name: 'wisp-js', run: withCpu(wisp.pid, () => wispUpload(wispConn, sink, SIZE, CHUNK), SIZE) });
      report('One stream, upload (client -> target)', await interleave(cases, ROUNDS, log), 'direct TCP', ['bridge', ...BASE_VS, 'websockify', 'wisp-js']);
    }

    if (want('many')) {
      // Long enough streams that all of them flow at once for most of the run (8 initial windows each by default).
      const per = STREAM_MB * MiB;
      // The source holds each connection open after its bytes and the clients close once they have them all (they
      // know the length, as with HTTP's Content-Length). With a source that ends the connection itself, wisp-js 0.5
      // stalls (docs/performance.md: its server drops a stream's queued bytes and never closes it when the target
      // ends while the WebSocket's buffer is over 32 MiB); BENCH_SOURCE_ENDS=1 shows that.
      const small = await loopback.source(per, !SOURCE_ENDS);
      stopAll.push(() => small.close());
      const many = (dl: (onBytes: (k: number) => void) => Promise<{ bytes: number; seconds: number }>, pid: number) => async () => {
        const before = cpuSeconds(pid);
        const r = await concurrentDownloads(STREAMS, dl);
        return { ...r, expected: per * STREAMS, cpu: cpuSeconds(pid) - before };
      };
      // A run that stalls fails after 60 s instead of hanging the bench.
      const timeoutS = 60;
      const length = SOURCE_ENDS ? Infinity : per;
      const cases: Case[] = [{ name: 'bridge', timeoutS, run: fresh(main, many((on) => throughBridge(main.session, small.port, undefined, on, length), bridge.pid)) }];
      for (const base of bases) cases.push({ name: `bridge (${base.label})`, timeoutS, run: fresh(base, many((on) => throughBridge(base.session, small.port, undefined, on, length), base.bridge.pid)) });
      if (wispConn && typeof wisp !== 'string') cases.push({ name: 'wisp-js', timeoutS, run: many((on) => wispDownload(wispConn, small.port, on, length), wisp.pid!) });
      report(`${STREAMS} concurrent downloads on one session, ${STREAM_MB} MiB each (fairness: the slowest stream's bytes over the mean while all flow)`, await interleave(cases, ROUNDS, log), 'bridge', [...BASE_VS, 'wisp-js']);
    }

    if (want('socks') || want('connects')) {
      const peers: NamedPeer[] = [hop];
      for (const [i, dir] of BASES.entries()) {
        const baseHop = await startOurs(dir, `wsocks (${i === 0 ? 'base' : `base ${i + 1}`})`);
        stopAll.push(() => baseHop.stop());
        peers.push(baseHop);
      }
      for (const p of [await startDante(), await startMicrosocks()]) {
        if (typeof p === 'string') log(`skipped: ${p}`);
        else {
          peers.push(p);
          stopAll.push(() => p.stop());
        }
      }
      if (want('socks')) {
        const cases: Case[] = [
          { name: 'direct TCP', run: withCpu(undefined, () => direct(source.port), SIZE) },
          ...peers.map((p) => ({ name: p.name, run: withCpu(p.pid, () => viaSocks5(p.port, source.port), SIZE) })),
        ];
        report('SOCKS5 CONNECT relay, download (server CPU: wsocks and microsocks only; Dante forks)', await interleave(cases, ROUNDS, log), 'direct TCP', ['wsocks', ...(BASES.length ? ['wsocks (base)'] : []), 'dante']);
      }
      if (want('connects')) {
        const target = await loopback.silent();
        stopAll.push(() => target.close());
        const cases: Case[] = peers.map((p) => ({
          name: p.name,
          unit: 1,
          run: withCpu(p.pid, () => connectRate(p.port, target.port, CONNECTS, 16), CONNECTS),
        }));
        report(`SOCKS5 CONNECT + close, 16 at a time, ${CONNECTS} per run (server CPU: wsocks and microsocks only)`, await interleave(cases, ROUNDS, log), 'wsocks', [...(BASES.length ? ['wsocks (base)'] : []), 'dante'], 'per s');
      }
    }

    if (want('misc')) {
      const opens: number[] = [];
      const directs: number[] = [];
      for (let i = 0; i < 50; i++) {
        directs.push(await directSocksOpenTime(hop.port, source.port));
        opens.push(await openTime(main.session, source.port, via));
      }
      console.log(`\nTime to open a stream through one SOCKS5 hop, median of 50\n`);
      printTable(
        ['path', 'ms', 'added ms'],
        [
          ['npm socks client straight to the hop (baseline)', median(directs).toFixed(2), ''],
          ['client library -> bridge -> hop', median(opens).toFixed(2), (median(opens) - median(directs)).toFixed(2)],
        ],
      );

      console.log('\nBridge memory (RSS growth of a fresh bridge process)\n');
      const target = await loopback.silent();
      stopAll.push(() => target.close());
      const mem: string[][] = [];
      for (const n of [1000, 10000]) {
        const fresh = await startBridgeProcess();
        try {
          mem.push([`${n} idle streams`, `${(await memoryPerIdleStream(fresh, target.port, n)).toFixed(1)} KiB per stream`]);
        } finally {
          await fresh.stop();
        }
      }
      const fresh = await startBridgeProcess();
      try {
        const big = await loopback.source(1024 * MiB);
        stopAll.push(() => big.close());
        const kib = await stalledReaderGrowth(fresh, big.port);
        mem.push(['a reader that stops reading a 1 GiB download (3 s)', `${(kib / 1024).toFixed(1)} MiB growth`]);
      } finally {
        await fresh.stop();
      }
      printTable(['case', 'bridge'], mem);
    }
  } finally {
    for (const stop of stopAll.reverse()) await stop();
  }
}

await main();
