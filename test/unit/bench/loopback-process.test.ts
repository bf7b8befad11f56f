import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import { childLoopback, inlineLoopback, type Loopback } from '../../../bench/loopback-process.ts';

/** Reads a connection to the source until `stopAt` bytes (then closes it) or its end; returns bytes and whether it ended. */
async function read(port: number, stopAt = Infinity): Promise<{ bytes: number; ended: boolean }> {
  const s = connect({ port, host: '127.0.0.1' });
  let bytes = 0;
  return new Promise((resolve, reject) => {
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      if (bytes >= stopAt) {
        s.destroy();
        resolve({ bytes, ended: false });
      }
    });
    s.on('end', () => {
      s.destroy();
      resolve({ bytes, ended: true });
    });
  });
}

/** Writes `n` bytes to the sink in pieces, then either ends the connection or leaves it open (returned). */
async function write(port: number, n: number, end: boolean) {
  const s = connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  const piece = Buffer.alloc(50_000, 1);
  for (let sent = 0; sent < n; sent += piece.length) {
    if (!s.write(piece.subarray(0, Math.min(piece.length, n - sent)))) await once(s, 'drain');
  }
  if (end) s.end();
  return s;
}

for (const [mode, start] of [
  ['child process', () => childLoopback([])],
  ['inline', async () => inlineLoopback()],
] as const) {
  describe(`bench loopback (${mode})`, () => {
    let loopback: Loopback;
    beforeAll(async () => {
      loopback = await start();
    }, 60_000);
    afterAll(() => loopback.stop());

    it('runs in its own process only when asked', () => {
      if (mode === 'inline') expect(loopback.pid).toBe(process.pid);
      else expect(loopback.pid).not.toBe(process.pid);
    });

    it('a source sends exactly its bytes to each connection and ends it', async () => {
      const source = await loopback.source(1_000_003);
      expect(await read(source.port)).toEqual({ bytes: 1_000_003, ended: true });
      expect(await read(source.port)).toEqual({ bytes: 1_000_003, ended: true });
      source.close();
    });

    it('a holding source sends its bytes and keeps the connection open until the client closes', async () => {
      const source = await loopback.source(300_000, true);
      const s = connect({ port: source.port, host: '127.0.0.1' });
      let bytes = 0;
      let ended = false;
      s.on('end', () => (ended = true));
      await new Promise<void>((resolve) =>
        s.on('data', (d: Buffer) => {
          bytes += d.length;
          if (bytes === 300_000) resolve();
        }),
      );
      // A source that ends on its own sends its FIN right behind the last bytes: give it a round trip through the
      // loopback's event loop (starting another source) to arrive. A holding source sends none until we close.
      (await loopback.source(1)).close();
      expect(ended).toBe(false);
      s.end();
      await once(s, 'close');
      expect(bytes).toBe(300_000);
      source.close();
    });

    it('a silent target accepts, sends nothing, and drops its connections when closed', async () => {
      const silent = await loopback.silent();
      const s = connect({ port: silent.port, host: '127.0.0.1' });
      let bytes = 0;
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', () => {});
      await once(s, 'connect');
      (await loopback.source(1)).close(); // a round trip through the loopback: the accept has happened
      silent.close();
      await once(s, 'close');
      expect(bytes).toBe(0);
    });

    it("a sink's next() gives each connection's byte count, reached() waits for the current one's bytes", async () => {
      const sink = await loopback.sink();
      const first = sink.next();
      await write(sink.port, 777_777, true);
      expect(await first).toBe(777_777);

      const second = sink.next();
      const open = await write(sink.port, 400_000, false);
      await sink.reached(400_000); // the connection is still open: only reached() can tell
      let settled = false;
      void second.then(() => (settled = true));
      await sink.reached(1); // already there: resolves at once
      expect(settled).toBe(false);
      open.end();
      expect(await second).toBe(400_000);
      sink.close();
    });
  });
}

describe('bench loopback child process, misuse', () => {
  it('refuses a bad request with a clear error and keeps serving', async () => {
    const loopback = await childLoopback([]);
    try {
      const sink = await loopback.sink();
      sink.close();
      // A closed sink's reached() is refused (the child no longer knows it), not left hanging.
      await expect(sink.reached(1)).rejects.toThrow(/loopback process: no sink/);
      const source = await loopback.source(10);
      expect(await read(source.port)).toEqual({ bytes: 10, ended: true });
    } finally {
      await loopback.stop();
    }
  }, 60_000);

  it('stop() ends the child process', async () => {
    const loopback = await childLoopback([]);
    await loopback.stop();
    expect(() => process.kill(loopback.pid, 0)).toThrow();
  }, 60_000);
});
