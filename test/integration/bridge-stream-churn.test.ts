/**
 * 10,000 streams opened and closed on one session, every way a stream can end: closed before `opened`, while the
 * bridge dials, during a hop's handshake, after data both ways, through a hop, by the target's FIN, with bytes in
 * flight both ways. Afterwards nothing may be left: no socket at any target or hop, no stream, no buffered byte, no
 * timer, no file descriptor, and every window's growth back in its session's budget (the bridge's upload windows,
 * the client's receive windows), so that windows still grow.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { WindowBudget } from '../../shared/protocol/window-budget.ts';
import type { Session, WsocksSocket } from '../../web/client/index.ts';
import { openSession } from '../helpers/bridge.ts';
import { startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';
import { socketFds } from '../helpers/socket-fds.ts';

const STREAMS = Number(process.env.CHURN_STREAMS ?? 10_000);
const WORKERS = 24;
const KiB = 1024;
const MiB = 1024 * KiB;

let bridge: BridgeServer;
let socks: SocksServer;
/** Echoes, and ends after the client's FIN. */
let echo: ScriptedTarget;
/** Sends 64 KiB and ends. */
let sender: ScriptedTarget;
/** Sends until it is closed. */
let flood: ScriptedTarget;
/** A SOCKS5 hop that never answers the greeting: the bridge stays in the hop's handshake. */
let stalledHop: ScriptedTarget;
let accepted: Array<() => void> = [];

beforeAll(async () => {
  [echo, sender, flood, stalledHop] = await Promise.all([startScripted(), startScripted(), startScripted(), startScripted()]);
  echo.script = (s) => {
    s.pipe(s);
    const w = accepted;
    accepted = [];
    for (const f of w) f();
  };
  sender.script = (s) => s.end(Buffer.alloc(64 * KiB, 3));
  flood.script = (s) => {
    const chunk = Buffer.alloc(64 * KiB, 5);
    const pump = () => {
      while (!s.destroyed && s.write(chunk));
      if (!s.destroyed) s.once('drain', pump);
    };
    pump();
  };
  // It reads (and ignores) the greeting, and closes when the bridge does.
  stalledHop.script = (s) => {
    s.resume();
    s.once('end', () => s.end());
  };
  socks = await SocksServer.start({ port: 0 });
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    clientChains: true,
    limits: { streamsPerSession: 256, maxStreams: 256, window: 64 * KiB, maxWindow: 1 * MiB },
  });
});
afterAll(async () => {
  await bridge?.close();
  await socks?.close();
  for (const t of [echo, sender, flood, stalledHop]) await t?.close();
});

const to = (t: ScriptedTarget) => ({ host: '127.0.0.1', port: t.port });

async function drainReadable(readable: ReadableStream<Uint8Array>, limit = Infinity): Promise<number> {
  const reader = readable.getReader();
  let n = 0;
  while (n < limit) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.length;
  }
  reader.releaseLock();
  return n;
}

/** One stream, ended the way `kind` says. */
async function churn(session: Session, kind: number): Promise<void> {
  let s: WsocksSocket;
  switch (kind) {
    case 0: {
      // Closed in the same turn as the open: before the bridge could dial.
      s = session.open(to(echo));
      await s.close();
      return;
    }
    case 1: {
      // Closed once the target has the connection, before `opened` reached the client (the bridge is attaching).
      const got = new Promise<void>((r) => accepted.push(r));
      s = session.open(to(echo));
      await got;
      await s.close();
      return;
    }
    case 2: {
      // Closed while the hop holds the handshake.
      s = session.open(to(echo), { via: [{ type: 'socks5', host: '127.0.0.1', port: stalledHop.port }] });
      const before = stalledHop.open;
      while (stalledHop.open === before && !(await Promise.race([s.opened.then(() => true, () => true), new Promise((r) => setImmediate(() => r(false)))])));
      await s.close();
      return;
    }
    case 3:
    case 4: {
      // Data both ways, then the client closes.
      s = session.open(to(echo));
      const { readable, writable } = await s.opened;
      const w = writable.getWriter();
      await w.write(new Uint8Array(1000).fill(kind));
      expect(await drainReadable(readable, 1000)).toBe(1000);
      await s.close();
      return;
    }
    case 5: {
      // The same through a hop (our SOCKS server), ended cleanly both ways.
      s = session.open(to(echo), { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] });
      const { readable, writable } = await s.opened;
      const w = writable.getWriter();
      await w.write(new Uint8Array(1000).fill(kind));
      await w.close();
      expect(await drainReadable(readable)).toBe(1000);
      await s.closed;
      return;
    }
    case 6: {
      // The target sends and ends; the client reads it all and ends too.
      s = session.open(to(sender));
      const { readable, writable } = await s.opened;
      expect(await drainReadable(readable)).toBe(64 * KiB);
      await writable.getWriter().close();
      await s.closed;
      return;
    }
    case 7: {
      // Closed with bytes in flight both ways.
      s = session.open(to(flood));
      const { readable, writable } = await s.opened;
      void writable.getWriter().write(new Uint8Array(200 * KiB)).catch(() => {});
      await drainReadable(readable, 1);
      await s.close();
      return;
    }
    case 8: {
      // Refused by the bridge before any dial (a route it does not have).
      s = session.open(to(echo), { route: 'nope' });
      await s.opened.then(
        () => {
          throw new Error('opened');
        },
        () => {},
      );
      return;
    }
    default: {
      // Windows grown, then closed: a large upload (the bridge's upload window grows) and a large download read
      // as it comes (the client's receive window grows), cut in the middle.
      s = session.open(to(echo));
      const { readable, writable } = await s.opened;
      const w = writable.getWriter();
      const reading = drainReadable(readable, 2 * MiB);
      for (let i = 0; i < 32; i++) await w.write(new Uint8Array(64 * KiB));
      await reading;
      await s.close();
    }
  }
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

it(`${STREAMS} streams opened and closed every way on one session leave nothing behind`, { timeout: 600_000 }, async () => {
  const session = await openSession(bridge.url, { window: 64 * KiB });
  const fds = socketFds();
  const timersBefore = timers();
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (next < STREAMS) {
        const i = next++;
        const kind = i % 500 === 499 ? 9 : i % 9;
        let t: NodeJS.Timeout | undefined;
        await Promise.race([churn(session, kind), new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`stream ${i} (kind ${kind}) did not end`)), 60_000)))]);
        clearTimeout(t);
      }
    }),
  );
  // Every target and hop saw its connection close.
  await Promise.all([echo.idle(), sender.idle(), flood.idle(), stalledHop.idle(), socks.whenIdle()]);
  while (bridge.stats().streams > 0 || bridge.stats().bufferedBytes > 0) await new Promise((r) => setTimeout(r, 20));
  expect(bridge.stats()).toEqual({ sessions: 1, streams: 0, bufferedBytes: 0 });
  // The growth of every window went back to its budget.
  const hosted = [...(bridge as unknown as { sessions: Set<{ uploadWindows: WindowBudget }> }).sessions];
  expect(hosted.map((h) => (h.uploadWindows as unknown as { grown: number }).grown)).toEqual([0]);
  expect((session as unknown as { windows: { grown: number } }).windows.grown).toBe(0);
  expect(socketFds()).toBe(fds);
  expect(timers()).toBeLessThanOrEqual(timersBefore);
  // And windows still grow: a stream alone on the session gets credit past the initial window.
  const s = session.open(to(echo));
  const { readable, writable } = await s.opened;
  const w = writable.getWriter();
  const reading = drainReadable(readable, 4 * MiB);
  for (let i = 0; i < 64; i++) await w.write(new Uint8Array(64 * KiB));
  expect(await reading).toBe(4 * MiB);
  expect((session as unknown as { windows: { grown: number } }).windows.grown).toBeGreaterThan(0);
  expect((hosted[0]!.uploadWindows as unknown as { grown: number }).grown).toBeGreaterThan(0);
  await s.close();
  await session.close();
});
