/**
 * The tunnel-checker battery: byte-exact delivery, half-close, RST and odd write patterns, through the bridge
 * directly, through our SOCKS server and through Dante. Every byte is checked by length and sha256 at both ends.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { Hop } from '../../shared/protocol/messages.ts';
import type { Session } from '../../web/client/index.ts';
import { openSession, readAll } from '../helpers/bridge.ts';
import { startDante, type Peer } from '../helpers/peers.ts';
import { payload, readSocketToEnd, sha256, startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';

/** Small windows so that "more than a window" stays cheap. */
const WINDOW = 64 * 1024;

let target: ScriptedTarget;
let socks: SocksServer;
let dante: Peer;
let bridge: BridgeServer;

beforeAll(async () => {
  target = await startScripted();
  socks = await SocksServer.start({ port: 0 });
  dante = await startDante({ auth: false });
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    clientChains: true,
    limits: { window: WINDOW },
  });
});
afterAll(async () => {
  await bridge?.close();
  await socks?.close();
  await dante?.stop();
  await target?.close();
});

interface Route {
  via: () => Hop[] | undefined;
  /** Whether an RST crosses the route as an RST (Dante turns it into a FIN). */
  passesReset: boolean;
}

const routes: Array<[string, Route]> = [
  ['direct', { via: () => undefined, passesReset: true }],
  ['our SOCKS server', { via: () => [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }], passesReset: true }],
  ['Dante', { via: () => [{ type: 'socks5', host: '127.0.0.1', port: dante.port }], passesReset: false }],
];

/** How the target saw its peer stop: `FIN` (a clean end) or the socket error's code (ECONNRESET for an RST). */
function targetSees(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    s.resume();
    s.once('end', () => {
      resolve('FIN');
      s.destroy();
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe.each(routes)('tunnel battery via %s', (_name, { via, passesReset }) => {
  let session: Session;
  beforeAll(async () => {
    session = await openSession(bridge.url, { window: WINDOW });
  });
  afterAll(async () => {
    session?.close();
    await session?.closed;
  });

  const open = () => {
    const v = via();
    return session.open({ host: '127.0.0.1', port: target.port }, v ? { via: v } : {});
  };

  it('client half-closes, the target answers with more than a window and FINs, the reader starts late: every byte', async () => {
    for (let round = 0; round < 5; round++) {
      const answer = payload(4 * WINDOW + 1000 + round);
      target.script = (s) => {
        s.resume();
        s.once('end', () => s.end(answer.data));
      };
      const socket = open();
      const info = await socket.opened;
      await info.writable.getWriter().close();
      // The late reader: the target has sent everything and closed before the client reads a byte.
      await target.idle();
      await new Promise((r) => setTimeout(r, 50));
      const got = await readAll(info);
      expect(got.length).toBe(answer.data.length);
      expect(sha256(got)).toBe(answer.sha);
      await socket.closed;
    }
  });

  it('the target resets: the client gets the bytes before it and ERR_STREAM_RESET, not a clean end', async () => {
    const before = payload(1000);
    let reset!: () => void;
    target.script = (s) => {
      s.write(before.data);
      reset = () => s.resetAndDestroy();
    };
    const socket = open();
    const info = await socket.opened;
    const reader = info.readable.getReader();
    const got: Uint8Array[] = [];
    let outcome: string;
    try {
      for (let n = 0; ; ) {
        // The RST goes out once the bytes before it have crossed (an RST racing unread data is seen as a FIN by
        // libuv, see docs/bridge.md).
        if (n === before.data.length) reset();
        const { value, done } = await reader.read();
        if (done) break;
        got.push(value);
        n += value.length;
      }
      outcome = 'end';
    } catch (err) {
      outcome = (err as { code: string }).code;
    }
    // Dante passes the target's RST on as a FIN: the client cannot tell.
    expect(outcome).toBe(passesReset ? 'ERR_STREAM_RESET' : 'end');
    if (passesReset) await expect(socket.closed).rejects.toMatchObject({ code: 'ERR_STREAM_RESET' });
    expect(sha256(Buffer.concat(got))).toBe(before.sha);
    socket.close();
    await target.idle();
  });

  it("the client's close() reaches the target as an RST, not a FIN", async () => {
    let seen!: Promise<string>;
    const arrived = new Promise<void>((resolve) => {
      target.script = (s) => {
        s.once('data', () => resolve());
        seen = targetSees(s);
      };
    });
    const socket = open();
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    await arrived;
    socket.close();
    // Dante passes the bridge's RST on as a FIN.
    expect(await seen).toBe(passesReset ? 'ECONNRESET' : 'FIN');
    await target.idle();
  });

  /** The target's view: everything it received until the client's FIN, by length and sha256. */
  const sink = (): Promise<{ length: number; sha: string }> =>
    new Promise((resolve) => {
      target.script = (s) => {
        void readSocketToEnd(s).then((got) => {
          resolve({ length: got.length, sha: sha256(got) });
          s.end();
        }, () => s.destroy());
      };
    });

  it('the target half-closes first, the client then sends more than a window: every byte arrives', async () => {
    const sent = payload(4 * WINDOW + 7);
    const received = new Promise<{ length: number; sha: string }>((resolve) => {
      target.script = (s) => {
        s.end();
        void readSocketToEnd(s).then((got) => resolve({ length: got.length, sha: sha256(got) }), () => {});
      };
    });
    const socket = open();
    const info = await socket.opened;
    expect((await readAll(info)).length).toBe(0);
    const writer = info.writable.getWriter();
    await writer.write(sent.data);
    await writer.close();
    expect(await received).toEqual({ length: sent.data.length, sha: sent.sha });
    await socket.closed;
  });

  it('zero-byte writes between others change nothing', async () => {
    const received = sink();
    const socket = open();
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    for (const part of ['', 'ab', '', '', 'c', '']) await writer.write(new TextEncoder().encode(part));
    await writer.close();
    expect(await received).toEqual({ length: 3, sha: sha256(Buffer.from('abc')) });
    expect((await readAll(info)).length).toBe(0);
    await socket.closed;
  });

  // 64 MiB directly; 16 MiB through each proxy, to keep the battery within about a minute on a busy machine.
  it('one large write (64 MiB direct, 16 MiB via a proxy) arrives whole', { timeout: 60_000 }, async () => {
    const sent = payload((via() ? 16 : 64) * 1024 * 1024);
    const received = sink();
    const socket = open();
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await writer.write(sent.data);
    await writer.close();
    expect(await received).toEqual({ length: sent.data.length, sha: sent.sha });
    await socket.closed;
  });

  // Each write awaited, as a program writes. (Queuing 100k writes at once without awaiting is slow in Node's own
  // WritableStream, whose queue is an array shifted from the front: quadratic, and not the bridge's doing.)
  it('100k one-byte writes arrive in order', { timeout: 120_000 }, async () => {
    const sent = payload(100_000);
    const received = sink();
    const socket = open();
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    for (let i = 0; i < sent.data.length; i++) await writer.write(sent.data.subarray(i, i + 1));
    await writer.close();
    expect(await received).toEqual({ length: sent.data.length, sha: sent.sha });
    await socket.closed;
  });

  // The client library joins a turn's writes into messages: each write must be copied before its promise resolves.
  it('a writer that refills one buffer for every write, without awaiting each: every byte as written', async () => {
    const sent = payload(5 * WINDOW + 12_345);
    const received = sink();
    const socket = open();
    const writer = (await socket.opened).writable.getWriter();
    const buf = new Uint8Array(3000);
    for (let at = 0; at < sent.data.length; at += buf.length) {
      const n = Math.min(buf.length, sent.data.length - at);
      await writer.ready;
      buf.set(sent.data.subarray(at, at + n));
      void writer.write(buf.subarray(0, n));
    }
    await writer.close();
    expect(await received).toEqual({ length: sent.data.length, sha: sent.sha });
    await socket.closed;
  });

  it('the server speaks first', async () => {
    const banner = payload(3000);
    target.script = (s) => {
      s.write(banner.data);
      s.resume();
      s.once('end', () => s.end());
    };
    const socket = open();
    const info = await socket.opened;
    const reader = info.readable.getReader();
    const got: Uint8Array[] = [];
    for (let n = 0; n < banner.data.length; ) {
      const { value, done } = await reader.read();
      if (done) break;
      got.push(value);
      n += value.length;
    }
    reader.releaseLock();
    expect(sha256(Buffer.concat(got))).toBe(banner.sha);
    await info.writable.getWriter().close();
    expect((await readAll(info)).length).toBe(0);
    await socket.closed;
  });

  it('immediate close, before and right after opened, leaves nothing behind', async () => {
    target.script = (s) => {
      s.resume();
      // Through Dante the abort arrives as a FIN: answer it, as any target would.
      s.once('end', () => s.end());
    };
    const early = open();
    early.close();
    await early.closed;
    const late = open();
    await late.opened;
    late.close();
    await late.closed;
    await target.idle();
    await expect.poll(() => bridge.stats().streams).toBe(0);
  });

  it('simultaneous close: both FIN at once, the stream ends cleanly', async () => {
    target.script = (s) => {
      s.end();
      s.resume();
    };
    const socket = open();
    const info = await socket.opened;
    await Promise.all([info.writable.getWriter().close(), readAll(info)]);
    await socket.closed;
    await target.idle();
  });

  it('16 parallel streams of random sizes, some read late: sha256 equal at both ends, both ways', { timeout: 60_000 }, async () => {
    target.script = (s) => s.pipe(s);
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const sent = payload(Math.floor(Math.random() * 6 * WINDOW) + (i % 4 === 0 ? 0 : 1));
        const socket = open();
        const info = await socket.opened;
        const writer = info.writable.getWriter();
        const writing = writer.write(sent.data).then(() => writer.close());
        // Late readers: the echo stalls on them until they read; their bytes must all still come back.
        if (i % 2 === 1) await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        const back = await readAll(info);
        await writing;
        await socket.closed;
        return { want: [sent.data.length, sent.sha], got: [back.length, sha256(back)] };
      }),
    );
    for (const r of results) expect(r.got).toEqual(r.want);
    await target.idle();
  });
});
