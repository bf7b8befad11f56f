import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeSocks5Request, fromHex, toHex } from '../../shared/socks/index.ts';
import { RawClient, startCountThenReply, type Running } from '../helpers/net.ts';
import { payload, sha256, startScripted } from '../helpers/scripted-target.ts';

async function openTunnel(server: SocksServer, port: number): Promise<RawClient> {
  const c = await RawClient.connect(server.address.port);
  c.send(Buffer.concat([fromHex('05 01 00'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port })]));
  expect(toHex((await c.read(12)).subarray(0, 4))).toBe('05 00 05 00');
  return c;
}

describe('relaying through our SOCKS server', () => {
  let server: SocksServer;
  let counter: Running;
  beforeAll(async () => {
    server = await SocksServer.start({ port: 0 });
    counter = await startCountThenReply();
  });
  afterAll(async () => {
    await server.close();
    await counter.close();
  });

  it('passes a client half-close on as FIN and still carries the answer back', async () => {
    const c = await openTunnel(server, counter.port);
    c.send(Buffer.alloc(100_000, 7));
    c.socket.end(); // FIN: "no more from me"; the target answers only after seeing it
    expect(String(await c.readToEnd())).toBe('got 100000 bytes');
    await c.closed;
    await server.whenIdle();
  });

  it('serves a client that sends greeting, request, data and FIN in one go (where microsocks drops the answer)', async () => {
    const c = await RawClient.connect(server.address.port);
    c.socket.end(Buffer.concat([fromHex('05 01 00'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port: counter.port }), Buffer.alloc(1234, 1)]));
    const all = await c.readToEnd();
    expect(toHex(all.subarray(0, 4))).toBe('05 00 05 00');
    expect(String(all.subarray(12))).toBe('got 1234 bytes');
    await c.closed;
  });

  it.each(['idle', 'sending'])('resets the target when close() cuts a relayed client (%s target)', async (mode) => {
    const own = await SocksServer.start({ port: 0 });
    const target = await startScripted();
    let targetError: Promise<unknown> | undefined;
    target.script = (s) => {
      targetError = new Promise((resolve) => s.once('close', () => resolve(s.errored ?? 'closed without a reset')));
      if (mode === 'sending') s.write(Buffer.alloc(4 * 1024 * 1024, 1)); // still queued when the client is cut
    };
    try {
      const c = await openTunnel(own, target.port);
      await own.close();
      await c.closed;
      // The target must not be left holding a connection nobody will ever read or end: it gets a reset.
      await target.idle();
      expect(String(await targetError)).toMatch(/ECONNRESET|EPIPE/);
    } finally {
      await target.close();
    }
  });

  it('closes at once on a client that half-closes mid-handshake', async () => {
    const slow = await SocksServer.start({ port: 0, handshakeTimeoutMs: 60_000 });
    try {
      const c = await RawClient.connect(slow.address.port);
      c.socket.end(fromHex('05 02 00'));
      expect((await c.readToEnd()).length).toBe(0);
      await slow.whenIdle();
    } finally {
      await slow.close();
    }
  });

  it.each([
    // Small writes spread over event-loop turns: the server reads them one by one (the buffer all connections share),
    // and while its writes to the slow client are queued below the writer's high-water mark it keeps reading.
    ['small writes, one tunnel', 16 * 1024, 2, 1],
    // Large writes: reads fill a connection's own buffer; held buffers go back to a pool that other connections (the
    // second tunnel) draw from once the client's socket drains.
    ['large writes, two tunnels at once', 512 * 1024, Infinity, 2],
  ])('delivers random downloads byte-exact to clients that read in fits and starts (%s)', async (_name, maxWrite, writesPerTurn, tunnels) => {
    // Random bytes, so that a read buffer reused while a write still held it would show as a wrong hash.
    const { data, sha } = payload(32 * 1024 * 1024);
    const target = await startScripted();
    let backedUp!: () => void;
    const full = new Promise<void>((resolve) => (backedUp = resolve));
    target.script = (s) => {
      let at = 0;
      let size = 1;
      let writes = 0;
      const pump = (): void => {
        while (at < data.length) {
          size = (size * 7 + 13) % maxWrite;
          const end = Math.min(data.length, at + size + 1);
          const ok = s.write(data.subarray(at, end));
          at = end;
          if (!ok) {
            backedUp(); // the whole path is full: the server's writes to the client are queued
            return void s.once('drain', pump);
          }
          if (++writes % writesPerTurn === 0) return void setImmediate(pump);
        }
        backedUp(); // or everything fit in the socket buffers on the way
        s.end();
      };
      pump();
    };
    const download = async (): Promise<Buffer> => {
      const c = await openTunnel(server, target.port);
      c.socket.pause();
      await full;
      c.socket.removeAllListeners('data');
      const parts: Buffer[] = [];
      let n = 0;
      c.socket.on('data', (d: Buffer) => {
        parts.push(d);
        // Every few chunks, stop reading until the next turn of the event loop: the server's writes to us back up.
        if (++n % 3 === 0) {
          c.socket.pause();
          setImmediate(() => c.socket.resume());
        }
      });
      c.socket.resume();
      await once(c.socket, 'end');
      c.destroy();
      return Buffer.concat(parts);
    };
    try {
      const received = await Promise.all(Array.from({ length: tunnels }, download));
      for (const r of received) {
        expect(r.length).toBe(data.length);
        expect(sha256(r)).toBe(sha);
      }
      await server.whenIdle();
      await target.idle();
    } finally {
      await target.close();
    }
  });

  it('holds back a fast target while the client does not read, then delivers every byte', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0xab);
    let written = 0;
    let stalled!: () => void;
    const stalledOnce = new Promise<void>((resolve) => (stalled = resolve));
    // A target that writes as fast as its socket lets it, and notes when backpressure first stops it for good.
    const target = createServer((s: Socket) => {
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!s.write(chunk)) {
            const timer = setTimeout(stalled, 500); // no drain for 500 ms: the whole path is full
            s.once('drain', () => {
              clearTimeout(timer);
              pump();
            });
            return;
          }
        }
        s.end();
      };
      pump();
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const port = (target.address() as { port: number }).port;
    try {
      const c = await openTunnel(server, port);
      c.socket.pause();
      const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      await stalledOnce;
      // Socket buffers on both legs hold a few MB; without backpressure all 64 MB would have been written.
      expect(written).toBeLessThan(total / 2);
      const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      expect(heapAfter - heapBefore).toBeLessThan(16 * 1024 * 1024);
      let received = 0;
      let wrong = 0;
      c.socket.removeAllListeners('data');
      c.socket.on('data', (d: Buffer) => {
        received += d.length;
        if (d.some((b) => b !== 0xab)) wrong++;
      });
      c.socket.resume();
      await once(c.socket, 'end');
      expect(received).toBe(total);
      expect(wrong).toBe(0);
      c.destroy();
      await server.whenIdle();
    } finally {
      target.close();
    }
  });
});
