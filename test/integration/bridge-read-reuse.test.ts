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
