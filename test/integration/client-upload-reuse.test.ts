/**
 * Uploads through the client library while buffers are reused on every side: the library reuses its message buffer
 * when the WebSocket holds no byte unsent (bufferedAmount 0), the writer reuses its own chunk as soon as a write
 * resolves, and the bridge packs bytes a backed-up target has not taken into blocks (upload-queue.ts). Targets read
 * in bursts, so the WebSocket's buffer fills and empties again and again (bufferedAmount > 0 <-> 0). Every byte must
 * reach the target in order: checked by sha256, directly and through a SOCKS5 hop.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { Session } from '../../web/client/index.ts';
import { openSession } from '../helpers/bridge.ts';
import { sha256, startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';

const MiB = 1024 * 1024;
let target: ScriptedTarget;
let bridge: BridgeServer;
let socks: SocksServer;
let session: Session;
/** sha256 and length of what each target connection read, by the first byte it got (the stream's tag). */
const received = new Map<number, Promise<{ sha: string; length: number }>>();

beforeAll(async () => {
  target = await startScripted();
  target.script = (s) => {
    const hash = createHash('sha256');
    let length = 0;
    let done!: (v: { sha: string; length: number }) => void;
    let tagged = false;
    let n = 0;
    s.on('data', (d: Buffer) => {
      if (!tagged) {
        tagged = true;
        received.set(d[0]!, new Promise((r) => (done = r)));
      }
      hash.update(d);
      length += d.length;
      // Reads in bursts: every few reads it stops for a moment, so the bridge's writes back up and the client's too.
      if (++n % 8 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.once('end', () => {
      done({ sha: hash.digest('hex'), length });
      s.end();
    });
  };
  socks = await SocksServer.start({ port: 0 });
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    clientChains: true,
    // Large upload windows: a stream sends megabytes in one go, more than the sockets on the way hold.
    limits: { window: 4 * MiB, maxWindow: 8 * MiB },
  });
  session = await openSession(bridge.url, {});
});
afterAll(async () => {
  await session?.close();
  await bridge?.close();
  await socks?.close();
  await target?.close();
});

/** Sizes from 1 byte to 300 KiB, over and under the message limit, from a seeded generator. */
function* sizes(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const r = x % 100;
    yield r < 30 ? 1 + (x % 64) : r < 70 ? 1 + (x % 8192) : r < 95 ? 1 + (x % 70_000) : 1 + (x % 300_000);
  }
}

it('four 8 MiB uploads at once, in writes of every size from one reused buffer, two through a hop: every byte, in order', { timeout: 120_000 }, async () => {
  // Counts the messages sent with the WebSocket backed up and with it empty: the test must see both (the library
  // reuses its buffer only in the second case).
  const ws = (session as unknown as { ws: { send(d: unknown): void; bufferedAmount: number } }).ws;
  const send = ws.send.bind(ws);
  const seen = { backedUp: 0, empty: 0 };
  ws.send = (d: unknown) => {
    if (ws.bufferedAmount > 0) seen.backedUp++;
    else seen.empty++;
    send(d);
  };
  const results = await Promise.all(
    [1, 2, 3, 4].map(async (tag) => {
      const data = randomBytes(8 * MiB);
      data[0] = tag;
      const via = tag > 2 ? { via: [{ type: 'socks5' as const, host: '127.0.0.1', port: socks.address.port }] } : {};
      const socket = session.open({ host: '127.0.0.1', port: target.port }, via);
      const { writable } = await socket.opened;
      const writer = writable.getWriter();
      // One buffer for every write, overwritten as soon as the write resolves: the library must not keep a view of it.
      const scratch = new Uint8Array(300_000);
      const gen = sizes(tag);
      for (let at = 0; at < data.length; ) {
        const n = Math.min(gen.next().value, data.length - at);
        scratch.set(data.subarray(at, at + n));
        await writer.write(scratch.subarray(0, n));
        scratch.fill(0xee, 0, n);
        at += n;
      }
      await writer.close();
      await socket.closed;
      return { tag, sha: sha256(data), length: data.length };
    }),
  );
  for (const { tag, sha, length } of results) expect(await received.get(tag)).toEqual({ sha, length });
  expect(seen.backedUp).toBeGreaterThan(100);
  expect(seen.empty).toBeGreaterThan(100);
});
