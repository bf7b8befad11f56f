/** Bridge benchmarks: stream throughput, time to open through a hop, and memory per idle stream. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SocksClient } from 'socks';
import type { Session } from '../web/client/index.ts';
import { openSession } from '../test/helpers/bridge.ts';
import type { Hop } from '../shared/protocol/messages.ts';
import { elapsed, type Sink } from './throughput.ts';
import { nodeArgsFrom, tsxTsconfig } from './node-args.ts';

export interface RunningBridge {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the bridge as its own process (so its memory and CPU are its own) with loopback allowed. */
export async function startBridgeProcess(
  extra: Record<string, unknown> = {},
  env: Record<string, string> = {},
  /** Another checkout to run the bridge from (BENCH_BASE: before/after comparisons). */
  root = join(import.meta.dirname, '..'),
): Promise<RunningBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-bench-'));
  const file = join(dir, 'bridge.json');
  writeFileSync(
    file,
    JSON.stringify({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      clientChains: true,
      // The default window and message size: the bench measures what users get.
      limits: { streamsPerSession: 20000 },
      ...extra,
    }),
  );
  // BENCH_BRIDGE_NODE_ARGS: node options for the bridge process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = nodeArgsFrom('BENCH_BRIDGE_NODE_ARGS');
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join(root, 'bin/wsocks.js'), 'bridge', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...tsxTsconfig(root), ...env },
  });
  // A bridge that cannot start (a BENCH_BASE that is not a checkout with node_modules, a bad config) exits: say why
  // instead of waiting for its address forever. Its stderr is kept (the last 2 KiB) for that, and read to the end.
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-2048)));
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`the bridge from ${root} exited (${signal ?? code}) before it listened: ${stderr.trim()}`);
  });
  const [line] = await Promise.race([once(child.stdout!, 'data'), exited]);
  exited.catch(() => {}); // it exits later, when stopped
  const url = /ws:\/\/\S+/.exec(String(line))?.[0];
  if (!url) {
    child.kill('SIGTERM');
    throw new Error(`the bridge from ${root} printed no address: ${String(line).trim()}`);
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Reads one stream from the source through the bridge: to its end, or with `length` until that many bytes have come
 * (a source that holds the connection open); `onBytes` sees each chunk's size.
 */
export async function throughBridge(
  session: Session,
  port: number,
  via?: Hop[],
  onBytes?: (n: number) => void,
  length = Infinity,
): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const socket = session.open({ host: '127.0.0.1', port }, via ? { via } : {});
  const { readable } = await socket.opened;
  let bytes = 0;
  for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    onBytes?.(chunk.length);
    if (bytes >= length) break;
  }
  socket.close();
  return { bytes, seconds: elapsed(start) };
}

/** Writes `total` bytes through the bridge to the sink and ends the stream; done when the sink has read them all. */
export async function uploadThroughBridge(session: Session, sink: Sink, total: number, chunk: Buffer): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const received = sink.next();
  const socket = session.open({ host: '127.0.0.1', port: sink.port });
  const { writable } = await socket.opened;
  const writer = writable.getWriter();
  for (let sent = 0; sent < total; ) {
    const n = Math.min(chunk.length, total - sent);
    await writer.ready;
    void writer.write(n === chunk.length ? chunk : chunk.subarray(0, n));
    sent += n;
  }
  await writer.close();
  const bytes = await received;
  socket.close();
  return { bytes, seconds: elapsed(start) };
}

/**
 * Runs `n` downloads at once. Besides the aggregate, reports fairness: the slowest stream's share of a fair split,
 * over the interval in which every stream is flowing (from the moment the last stream gets its first byte to the
 * moment the first stream ends): its bytes in that interval over the mean (1.0 = every stream got its fair share;
 * 0 when a stream ended before the last one started).
 */
export async function concurrentDownloads(
  n: number,
  download: (onBytes: (k: number) => void) => Promise<{ bytes: number; seconds: number }>,
): Promise<{ bytes: number; seconds: number; fairness: number }> {
  const start = process.hrtime.bigint();
  const got = new Array<number>(n).fill(0);
  let flowing = 0;
  let atAllFlowing: number[] | undefined;
  let atFirstEnd: number[] | undefined;
  const runs = got.map((_, i) =>
    download((k) => {
      if (got[i] === 0 && ++flowing === n) atAllFlowing = [...got];
      got[i]! += k;
    }).then((r) => {
      atFirstEnd ??= [...got];
      return r;
    }),
  );
  const results = await Promise.all(runs);
  const seconds = elapsed(start);
  let fairness = 0;
  if (atAllFlowing && atFirstEnd) {
    const from = atAllFlowing;
    const share = atFirstEnd.map((b, i) => b - from[i]!);
    const mean = share.reduce((a, b) => a + b, 0) / n;
    fairness = mean > 0 ? Math.min(...share) / mean : 0;
  }
  return { bytes: results.reduce((a, r) => a + r.bytes, 0), seconds, fairness };
}

/** Milliseconds to get `opened` for a stream through `via`; the stream is closed again. */
export async function openTime(session: Session, port: number, via: Hop[]): Promise<number> {
  const start = process.hrtime.bigint();
  const socket = session.open({ host: '127.0.0.1', port }, { via });
  await socket.opened;
  const ms = elapsed(start) * 1000;
  socket.close();
  return ms;
}

/** Milliseconds for the same CONNECT made directly with the npm socks client (the baseline for openTime). */
export async function directSocksOpenTime(proxyPort: number, port: number): Promise<number> {
  const start = process.hrtime.bigint();
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
  });
  const ms = elapsed(start) * 1000;
  socket.destroy();
  return ms;
}

export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** Opens `n` idle direct streams on one session and returns the bridge's RSS growth per stream, in KiB. */
export async function memoryPerIdleStream(bridge: RunningBridge, port: number, n: number): Promise<number> {
  const session = await openSession(bridge.url, { window: 64 * 1024 });
  // Warm up code paths and buffers with a few streams first.
  const warm = Array.from({ length: 50 }, () => session.open({ host: '127.0.0.1', port }));
  await Promise.all(warm.map((s) => s.opened));
  for (const s of warm) s.close();
  const before = rssKiB(bridge.pid);
  const sockets = [];
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, () => session.open({ host: '127.0.0.1', port }));
    await Promise.all(batch.map((s) => s.opened));
    sockets.push(...batch);
  }
  const after = rssKiB(bridge.pid);
  for (const s of sockets) s.close();
  session.close();
  await session.closed;
  return (after - before) / n;
}

/**
 * RSS growth (KiB) of the bridge while a client with the default window opens a large download and never reads
 * it, over 3 seconds: the credit rules should keep it flat.
 */
export async function stalledReaderGrowth(bridge: RunningBridge, port: number): Promise<number> {
  const session = await openSession(bridge.url);
  const before = rssKiB(bridge.pid);
  const socket = session.open({ host: '127.0.0.1', port });
  await socket.opened;
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssKiB(bridge.pid);
  socket.close();
  session.close();
  await session.closed;
  return after - before;
}
