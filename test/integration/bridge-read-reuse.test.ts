/**
 * A direct target's reads land in buffers that are reused once their bytes are written to the client
 * (server/net/relay.ts DirectReads, server/bridge/read-lease.ts). A buffer reused too early would send another
 * read's bytes: several large downloads at once, with readers that stall (credit runs out, bytes wait in the bridge,
 * the session's outgoing buffer fills), must all arrive byte for byte.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { Hop } from '../../shared/protocol/messages.ts';
import type { Session } from '../../web/client/index.ts';
import { openSession } from '../helpers/bridge.ts';
import { payload, sha256, startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';

const MiB = 1024 * 1024;
let target: ScriptedTarget;
let bridge: BridgeServer;
let session: Session;
let socks: SocksServer;

beforeAll(async () => {
  target = await startScripted();
  socks = await SocksServer.start({ port: 0 });
  // A small outgoing bound, so that the session congests and streams wait with bytes in hand.
  bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    clientChains: true,
    limits: { maxBufferedBytes: 256 * 1024 },
  });
  session = await openSession(bridge.url);
});
afterAll(async () => {
  await session?.close();
  await bridge?.close();
  await target?.close();
  await socks?.close();
});

it.each([
  ['directly', (): Hop[] | undefined => undefined],
  // The hop's socket is read by the SOCKS handshake first ('data' events), then by the stream (DirectReads.pushInto).
  ['through a SOCKS5 hop', (): Hop[] | undefined => [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }]],
] as const)('four 16 MiB downloads at once %s, two read in stalls: every byte, in order', { timeout: 120_000 }, async (_name, via) => {
  const sources = Array.from({ length: 4 }, () => payload(16 * MiB));
  let next = 0;
  target.script = (s) => s.end(sources[next++]!.data);
  const results = await Promise.all(
    sources.map(async (_, i) => {
      const hops = via();
      const socket = session.open({ host: '127.0.0.1', port: target.port }, hops ? { via: hops } : {});
      const { readable } = await socket.opened;
      const reader = readable.getReader();
      const parts: Uint8Array[] = [];
      for (let n = 0; ; n++) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
        // Readers 1 and 3 stop now and then: their credit runs out while the target still sends.
        if (i % 2 === 1 && n % 16 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await socket.close();
      return Buffer.concat(parts);
    }),
  );
  // Streams opened in this order reach the target in it: stream i got sources[i].
  const got = results.map((b) => [b.length, sha256(b)]).sort();
  const want = sources.map((s) => [s.data.length, s.sha]).sort();
  expect(got).toEqual(want);
});

it.each([
  ['directly', (): Hop[] | undefined => undefined],
  ['through a SOCKS5 hop', (): Hop[] | undefined => [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }]],
] as const)('targets writing every size, from 1 byte to 300 KiB, to clients that read late %s: every byte, in order', { timeout: 120_000 }, async (_name, via) => {
  // Reads switch between the buffer all connections share (copied) and a connection's own (leased) as their sizes
  // change: a buffer given back while a lease or an unwritten message still holds it would show as a wrong hash.
  const sources = Array.from({ length: 3 }, () => payload(12 * MiB));
  let next = 0;
  let full!: () => void;
  const backedUp = new Promise<void>((r) => (full = r));
  target.script = (s) => {
    const { data } = sources[next++]!;
    let at = 0;
    let x = next;
    const pump = (): void => {
      while (at < data.length) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const n = x % 4 === 0 ? 1 + (x % 300_000) : 1 + (x % 2000);
        const ok = s.write(data.subarray(at, Math.min(data.length, at + n)));
        at += n;
        if (!ok) {
          full();
          return void s.once('drain', pump);
        }
        if (x % 3 === 0) return void setImmediate(pump);
      }
      full();
      s.end();
    };
    pump();
  };
  const results = await Promise.all(
    sources.map(async () => {
      const hops = via();
      const socket = session.open({ host: '127.0.0.1', port: target.port }, hops ? { via: hops } : {});
      const { readable } = await socket.opened;
      // Late: nothing is read until some target's path is full.
      await backedUp;
      const parts: Uint8Array[] = [];
      for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
      await socket.close();
      return Buffer.concat(parts);
    }),
  );
  expect(results.map((b) => [b.length, sha256(b)]).sort()).toEqual(sources.map((s) => [s.data.length, s.sha]).sort());
});
