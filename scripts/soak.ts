/**
 * `npm run soak [-- --cycles N]`: N (default 20,000) open/echo/close cycles through a live bridge, 16 at a time on
 * one session, then checks that nothing leaked: active handles and timers (process.getActiveResourcesInfo()), the
 * bridge's stats(), listeners on the session's WebSocket, and the heap after gc (run with --expose-gc, as the npm
 * script does). Exits 1 with the numbers when something grew.
 */
import { once } from 'node:events';
import { BridgeServer } from '../server/bridge/bridge-server.ts';
import { decodeDataFrame, encodeDataFrame } from '../shared/protocol/frame.ts';
import { startEcho } from '../test/helpers/net.ts';
import { rawSession, type RawSession } from '../test/helpers/raw-session.ts';

const i = process.argv.indexOf('--cycles');
const cycles = Number(i === -1 ? (process.env.SOAK_CYCLES ?? 20_000) : process.argv[i + 1]);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc (npm run soak does)');
  process.exit(2);
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function settledHeap(): Promise<number> {
  for (let k = 0; k < 3; k++) {
    await new Promise((r) => setImmediate(r));
    gc!();
  }
  return process.memoryUsage().heapUsed;
}

const echo = await startEcho();
const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.1', ports: String(echo.port) }] } });
const session = await rawSession(bridge.url);
/** Resolvers waiting for the echo of one stream id. */
const waiting = new Map<number, () => void>();
session.ws.on('message', (data: Buffer, isBinary: boolean) => {
  if (!isBinary) return;
  const frame = decodeDataFrame(data);
  if (frame) waiting.get(frame.id)?.();
});

let nextId = 1;
async function cycle(s: RawSession): Promise<void> {
  const id = nextId++;
  s.send({ type: 'open', id, host: '127.0.0.1', port: echo.port, window: 65536 });
  const answer = await s.next((m) => m.id === id && (m.type === 'opened' || m.type === 'error'));
  if (answer.type !== 'opened') throw new Error(`open ${id}: ${JSON.stringify(answer)}`);
  const echoed = new Promise<void>((resolve) => waiting.set(id, resolve));
  s.ws.send(encodeDataFrame(id, Buffer.from(`cycle ${id}`)));
  await echoed;
  waiting.delete(id);
  s.send({ type: 'close', id });
  // Keep the message log from growing: drop what this cycle produced.
  for (let k = s.messages.length - 1; k >= 0; k--) if (s.messages[k]!.id === id) s.messages.splice(k, 1);
  s.frames.length = 0;
}

async function run(n: number): Promise<void> {
  let done = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (done < n) {
        done++;
        await cycle(session);
      }
    }),
  );
  while (bridge.stats().streams > 0) await new Promise((r) => setTimeout(r, 10));
}

const started = performance.now();
await run(Math.min(2_000, cycles)); // warm-up: JIT, pools, zod caches
const before = { resources: resources(), heap: await settledHeap(), listeners: session.ws.eventNames().map((e) => session.ws.listenerCount(e)) };
await run(cycles);
const after = { resources: resources(), heap: await settledHeap(), listeners: session.ws.eventNames().map((e) => session.ws.listenerCount(e)) };
const stats = bridge.stats();
const heapGrowth = after.heap - before.heap;
console.log(JSON.stringify({ cycles, seconds: ((performance.now() - started) / 1000).toFixed(1), stats, before, after, heapGrowth }, null, 2));

const problems: string[] = [];
if (stats.streams !== 0 || stats.bufferedBytes !== 0 || stats.sessions !== 1) problems.push(`bridge stats ${JSON.stringify(stats)}`);
for (const kind of new Set([...Object.keys(before.resources), ...Object.keys(after.resources)])) {
  if ((after.resources[kind] ?? 0) > (before.resources[kind] ?? 0)) problems.push(`${kind}: ${before.resources[kind] ?? 0} -> ${after.resources[kind]}`);
}
if (JSON.stringify(before.listeners) !== JSON.stringify(after.listeners)) problems.push(`listeners ${before.listeners} -> ${after.listeners}`);
// Flat heap: a leak of even 100 bytes a cycle would show as 2 MB over 20,000 cycles.
if (heapGrowth > 2 * 1024 * 1024) problems.push(`heap grew by ${heapGrowth} bytes`);

session.ws.close();
await once(session.ws, 'close');
await bridge.whenIdle();
await bridge.close();
await echo.close();
if (problems.length > 0) {
  console.error(`LEAK: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`ok: ${cycles} cycles, nothing leaked`);
