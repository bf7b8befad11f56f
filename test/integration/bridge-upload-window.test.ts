/**
 * The bridge's upload window (client -> target): it starts at limits.window, doubles at credit grants while the
 * target keeps up, never beyond limits.maxWindow, and the session's streams share that as their budget for growing.
 * Spoken raw, so that the credit the bridge grants is seen exactly.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';

const WINDOW = 64 * 1024;
const MAX_WINDOW = 512 * 1024;
const FRAME = 16 * 1024;

let bridge: BridgeServer;
let target: Server;
let targetPort: number;
/** Bytes the target has read, per connection in order of arrival. */
const received: number[] = [];

beforeAll(async () => {
  target = createServer((s) => {
    const i = received.push(0) - 1;
    s.on('data', (d: Buffer) => (received[i]! += d.length));
    s.on('error', () => s.destroy());
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  targetPort = (target.address() as { port: number }).port;
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    limits: { window: WINDOW, maxWindow: MAX_WINDOW },
  });
});
afterAll(async () => {
  await bridge?.close();
  target?.close();
});

/** A raw session that uploads `total` bytes on each of `streams` streams, as fast as credit allows. */
async function upload(streams: number, total: number): Promise<{ maxCredit: number[]; errors: unknown[] }> {
  const ws = new WebSocket(bridge.url, ['wsocks.v1']);
  const credit = new Map<number, number>();
  const sent = new Map<number, number>();
  const maxCredit = new Map<number, number>();
  const errors: unknown[] = [];
  let finished = 0;
  let done!: () => void;
  const allDone = new Promise<void>((resolve) => (done = resolve));
  const pump = (id: number) => {
    while ((credit.get(id) ?? 0) > 0 && sent.get(id)! < total) {
      const n = Math.min(FRAME, credit.get(id)!, total - sent.get(id)!);
      ws.send(encodeDataFrame(id, new Uint8Array(n)));
      credit.set(id, credit.get(id)! - n);
      sent.set(id, sent.get(id)! + n);
      if (sent.get(id) === total) {
        ws.send(JSON.stringify({ type: 'end', id }));
        if (++finished === streams) done();
      }
    }
  };
  const grant = (id: number, bytes: number) => {
    credit.set(id, (credit.get(id) ?? 0) + bytes);
    maxCredit.set(id, Math.max(maxCredit.get(id) ?? 0, credit.get(id)!));
    pump(id);
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = JSON.parse(String(data));
    if (m.type === 'hello') {
      for (let id = 1; id <= streams; id++) {
        sent.set(id, 0);
        ws.send(JSON.stringify({ type: 'open', id, host: '127.0.0.1', port: targetPort, window: WINDOW }));
      }
    } else if (m.type === 'opened') grant(m.id, m.window);
    else if (m.type === 'credit') grant(m.id, m.bytes);
    else if (m.type === 'error') {
      errors.push(m);
      done();
    }
  });
  await allDone;
  ws.close();
  await once(ws, 'close');
  return { maxCredit: [...maxCredit.values()], errors };
}

describe('bridge upload window', () => {
  it('grows while the target keeps up, never past maxWindow, and every byte arrives', async () => {
    const first = received.length;
    const total = 8 * 1024 * 1024;
    const { maxCredit, errors } = await upload(1, total);
    expect(errors).toEqual([]);
    expect(maxCredit[0]).toBeGreaterThan(WINDOW);
    expect(maxCredit[0]).toBeLessThanOrEqual(MAX_WINDOW);
    await expect.poll(() => received[first], { timeout: 30_000 }).toBe(total);
  });

  it('with more streams than the budget holds, every stream keeps its initial window', async () => {
    const first = received.length;
    const streams = MAX_WINDOW / WINDOW;
    const total = 1024 * 1024;
    const { maxCredit, errors } = await upload(streams, total);
    expect(errors).toEqual([]);
    expect(maxCredit).toHaveLength(streams);
    for (const c of maxCredit) expect(c).toBeLessThanOrEqual(WINDOW);
    await expect.poll(() => received.slice(first), { timeout: 30_000 }).toEqual(new Array(streams).fill(total));
  });
});
