import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { FrameWriter } from '../../../server/bridge/frame-writer.ts';
import { decodeDataFrame } from '../../../shared/protocol/frame.ts';

/** A real WebSocket pair on loopback: the server side's socket and ws, and what the ws client receives. */
async function pair(maxData: number) {
  const http: Server = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const accepted = new Promise<{ ws: WebSocket; socket: Duplex }>((resolve) =>
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, socket }))),
  );
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as { port: number }).port}/`);
  const received: Array<{ id: number; data: Buffer } | string> = [];
  let onMessage = () => {};
  client.on('message', (data: Buffer, binary: boolean) => {
    if (!binary) received.push(data.toString());
    else {
      const f = decodeDataFrame(data)!;
      received.push({ id: f.id, data: Buffer.from(f.data) });
    }
    onMessage();
  });
  const { ws, socket } = await accepted;
  await once(client, 'open');
  let written = 0;
  const writer = new FrameWriter(socket, maxData, (n) => (written += n), () => ws.readyState === ws.OPEN);
  return {
    ws,
    client,
    writer,
    received,
    written: () => written,
    /** Resolves once `n` messages have arrived. */
    until: (n: number) => new Promise<void>((resolve) => ((onMessage = () => received.length >= n && resolve()), onMessage())),
    close: async () => {
      client.terminate();
      http.close();
    },
  };
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('FrameWriter: data messages written straight to the socket', { timeout: 30_000 }, () => {
  it('joins one turn of a stream into one message, splits at the limit, and frames every length right', async () => {
    const p = await pair(70_000);
    cleanup = p.close;
    // Lengths around the frame header's size classes (125/126, 65535/65536 with the 4-byte id).
    const sizes = [1, 121, 122, 65531, 65532, 70_000];
    const sent = sizes.map((n, i) => bytes(n, i));
    for (const [i, b] of sent.entries()) p.writer.data(100 + i, b);
    // Two chunks of one stream in the same turn: one message.
    p.writer.data(7, Buffer.from('hello, '));
    p.writer.data(7, Buffer.from('world'));
    // 100 000 bytes over a 70 000 limit: a full message at once, the rest at the end of the turn.
    const big = bytes(100_000, 9);
    p.writer.data(8, big);
    await p.until(sizes.length + 3);
    const byId = new Map<number, Buffer[]>();
    for (const m of p.received) {
      if (typeof m === 'string') throw new Error('no text expected');
      byId.set(m.id, [...(byId.get(m.id) ?? []), m.data]);
    }
    for (const [i, b] of sent.entries()) {
      expect(byId.get(100 + i)!.length).toBe(1);
      expect(byId.get(100 + i)![0]!.equals(b)).toBe(true);
    }
    expect(byId.get(7)!.map(String)).toEqual(['hello, world']);
    expect(byId.get(8)!.map((d) => d.length)).toEqual([70_000, 30_000]);
    expect(Buffer.concat(byId.get(8)!).equals(big)).toBe(true);
    expect(p.written()).toBe(sizes.reduce((a, b) => a + b, 0) + 12 + 100_000);
  });

  it('flush() puts queued data ahead of a control message; a datagram stays a message of its own', async () => {
    const p = await pair(65_536);
    cleanup = p.close;
    p.writer.data(1, Buffer.from('abc'));
    p.writer.flush();
    p.ws.send('{"type":"end","id":1}');
    p.writer.data(2, Buffer.from('x'));
    p.writer.message(2, Buffer.from('datagram'));
    p.writer.message(2, Buffer.from('second'));
    await p.until(5);
    expect(p.received.map((m) => (typeof m === 'string' ? m : `${m.id}:${m.data}`))).toEqual([
      '1:abc',
      '{"type":"end","id":1}',
      '2:x',
      '2:datagram',
      '2:second',
    ]);
  });

  it('text(): control messages of a turn go out packed, after the data queued before them and before the data after', async () => {
    const p = await pair(65_536);
    cleanup = p.close;
    const text = (t: string) => p.writer.text(t, Buffer.byteLength(t));
    p.writer.data(1, Buffer.from('abc'));
    text('{"type":"end","id":1}');
    p.writer.data(2, Buffer.from('x'));
    // Every header size class, and a non-ASCII payload (its length in bytes, not characters).
    text('é'.repeat(100));
    text('z'.repeat(70_000));
    p.writer.message(3, Buffer.from('datagram'));
    text('last');
    await p.until(7);
    expect(p.received.map((m) => (typeof m === 'string' ? (m.length > 30 ? `${m[0]}*${m.length}` : m) : `${m.id}:${m.data}`))).toEqual([
      '1:abc',
      '{"type":"end","id":1}',
      '2:x',
      'é*100',
      'z*70000',
      '3:datagram',
      'last',
    ]);
    expect(p.written()).toBe(3 + 21 + 1 + 200 + 70_000 + 8 + 4);
  });

  it('drops what is queued once the WebSocket is closing (nothing after a close frame), and still reports it', async () => {
    const p = await pair(65_536);
    cleanup = p.close;
    p.writer.data(1, Buffer.from('late'));
    p.ws.close(1000);
    const [code] = await once(p.client, 'close');
    expect(code).toBe(1000);
    expect(p.received).toEqual([]);
    expect(p.written()).toBe(4);
  });
});
