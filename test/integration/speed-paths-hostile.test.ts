/**
 * Hostile clients against the speed paths (issue #13): what docs/bridge.md promises about memory and bytes must hold
 * whatever message sizes a client picks. Spoken raw, so that the client controls every frame.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const WINDOW = 1024 * 1024;

let bridge: BridgeServer;
let target: Server;
let targetPort: number;
const accepted: Socket[] = [];
let onAccept: (s: Socket) => void = () => {};

beforeAll(async () => {
  target = createServer({ allowHalfOpen: true }, (s) => {
    // A target that stops reading: nothing is read until the test says so.
    s.pause();
    s.on('error', () => {});
    accepted.push(s);
    onAccept(s);
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  targetPort = (target.address() as { port: number }).port;
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    limits: { window: WINDOW, maxWindow: WINDOW },
  });
});
afterAll(async () => {
  for (const s of accepted) s.destroy();
  await bridge?.close();
  target?.close();
});

/** Ends stream 1, lets the stopped target read, and expects exactly `sent` there (sha256); then closes the session. */
async function endAndExpectAtTarget(ws: WebSocket, targetSide: Socket, sent: Buffer[]): Promise<void> {
  ws.send(JSON.stringify({ type: 'end', id: 1 }));
  const received = createHash('sha256');
  let length = 0;
  targetSide.on('data', (d: Buffer) => {
    received.update(d);
    length += d.length;
  });
  targetSide.resume();
  await once(targetSide, 'end');
  const all = Buffer.concat(sent);
  expect(length).toBe(all.length);
  expect(received.digest('hex')).toBe(createHash('sha256').update(all).digest('hex'));
  ws.close();
  await once(ws, 'close');
  targetSide.destroy();
}

/** Client frames (masked with a zero key, which RFC 6455 allows) of binary data messages for stream `id`. */
function dataFrames(id: number, data: Uint8Array, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) {
    const chunk = data.subarray(at, Math.min(data.length, at + size));
    const body = 4 + chunk.length;
    const head = body < 126 ? Buffer.from([0x82, 0x80 | body]) : Buffer.from([0x82, 0x80 | 126, body >> 8, body & 0xff]);
    const id4 = Buffer.alloc(4);
    id4.writeUInt32BE(id);
    parts.push(head, Buffer.alloc(4), id4, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(parts);
}

/**
 * A raw session with stream 1 open to the stopped target and its whole window granted. `send` writes `data` as
 * messages of `size` bytes and spends their credit; `end` ends the stream and expects every byte sent at the target.
 */
async function openUpload() {
  const ws = new WebSocket(bridge.url, ['wsocks.v1']);
  ws.on('error', () => {});
  const u = { credit: 0, granted: 0, messages: [] as Array<Record<string, unknown>> };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    u.messages.push(m);
    if (m.type === 'opened') u.credit += m.window as number;
    if (m.type === 'credit') {
      u.credit += m.bytes as number;
      u.granted += m.bytes as number;
    }
  });
  await once(ws, 'open');
  const raw = (ws as unknown as { _socket: Socket })._socket;
  const accept = new Promise<Socket>((resolve) => (onAccept = resolve));
  ws.send(JSON.stringify({ type: 'open', id: 1, host: '127.0.0.1', port: targetPort, window: 65536 }));
  const targetSide = await accept;
  await expect.poll(() => u.credit).toBe(WINDOW);
  const sent: Buffer[] = [];
  return Object.assign(u, {
    send(data: Buffer, size: number): void {
      sent.push(data);
      u.credit -= data.length;
      raw.write(dataFrames(1, data, size));
    },
    // After a pong the bridge has handled every message before the ping; after a second one, the credit for the
    // bytes it wrote meanwhile is out too.
    async roundTrip(): Promise<void> {
      ws.ping();
      await once(ws, 'pong');
    },
    errors: () => u.messages.filter((m) => m.type === 'error'),
    end: () => endAndExpectAtTarget(ws, targetSide, sent),
  });
}

describe('upload to a target that stops reading', () => {
  it('1-byte messages: the bridge holds about the window, not a write per byte; every byte and the FIN arrive in order', async () => {
    const u = await openUpload();
    // Large messages until the target's socket buffers are full: then half the window stays unwritten in the bridge.
    const big = 16 * 1024;
    for (;;) {
      const n = Math.floor((u.credit - WINDOW / 2) / big) * big;
      if (n <= 0) break;
      u.send(randomBytes(n), big);
      await u.roundTrip();
      await u.roundTrip();
    }
    expect(u.granted).toBeGreaterThan(0);

    // The other half as 1-byte messages: over half a million of them, all waiting in the bridge.
    gc();
    const before = process.memoryUsage();
    const tiny = randomBytes(u.credit);
    u.send(tiny, 1);
    await u.roundTrip();
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    // docs/bridge.md: per stream W + R + K. A write request per message held about 250 bytes each: 130 MiB here.
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(u.errors()).toEqual([]);

    // The client's FIN comes after its queued bytes, and every byte arrives in order.
    await u.end();
  });

  it('large messages (kept as they came) between small ones (copied): every byte arrives in order, within the bound', async () => {
    const u = await openUpload();
    // Sizes around the upload queue's threshold (32 KiB), in a pattern, until the target's buffers and then the
    // window are full: most of it waits in the bridge's queue, large messages held, small ones packed.
    const sizes = [40 * 1024, 1, 32 * 1024, 32 * 1024 - 1, 7, 60 * 1024, 100];
    gc();
    const before = process.memoryUsage();
    for (let i = 0; u.credit > 0; i++) {
      const n = Math.min(u.credit, sizes[i % sizes.length]!);
      u.send(randomBytes(n), n);
      if (i % 16 === 15) {
        await u.roundTrip();
        await u.roundTrip();
      }
    }
    await u.roundTrip();
    await u.roundTrip();
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    // docs/bridge.md: per stream the client's bytes in at most 2W of buffers (plus this test's own copies, `sent`).
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(u.errors()).toEqual([]);

    await u.end();
  });
});

describe('download from targets that trickle, to a client that does not read', () => {
  it('1-byte reads: the outgoing bound counts each message, so the bridge holds about maxBufferedBytes, not a message per byte', async () => {
    const MAX_BUFFERED = 128 * 1024;
    const STREAMS = 16;
    const small = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      limits: { maxBufferedBytes: MAX_BUFFERED, overloadTimeoutMs: 600_000 },
    });
    const trickling: Socket[] = [];
    let allOpen!: () => void;
    const opened = new Promise<void>((resolve) => (allOpen = resolve));
    onAccept = (s) => {
      s.setNoDelay(true);
      if (trickling.push(s) === STREAMS) allOpen();
    };
    const ws = new WebSocket(small.url, ['wsocks.v1']);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      if (m.type === 'hello') {
        for (let id = 1; id <= STREAMS; id++) ws.send(JSON.stringify({ type: 'open', id, host: '127.0.0.1', port: targetPort, window: 2 ** 31 - 1 }));
      }
    });
    try {
      await opened;
      // The client reads nothing more.
      (ws as unknown as { _socket: Socket })._socket.pause();
      gc();
      const before = process.memoryUsage();
      // Each target writes one byte per turn while its socket takes it: one read, so one message, per byte.
      const one = Buffer.from('x');
      let trickle = true;
      const tick = () => {
        for (const s of trickling) if (s.writableLength === 0) s.write(one);
        if (trickle) setImmediate(tick);
      };
      tick();
      await expect.poll(() => small.stats().bufferedBytes, { timeout: 120_000, interval: 50 }).toBeGreaterThan(MAX_BUFFERED);
      trickle = false;
      gc();
      const after = process.memoryUsage();
      const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
      // docs/bridge.md: per session 2B + X + ... Counting bytes only, about 1 KiB of heap per 1-byte message: 128 MiB.
      expect(grown).toBeLessThan(16 * 1024 * 1024);
    } finally {
      onAccept = () => {};
      ws.terminate();
      for (const s of trickling) s.destroy();
      await small.close();
    }
  });
});
