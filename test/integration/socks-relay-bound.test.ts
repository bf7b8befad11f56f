/**
 * The SOCKS relay's memory bound (server/net/relay.ts, docs/socks-server.md "Backpressure"): a client that trickles
 * bytes, one segment each, towards a target that has stopped reading. Each read is a buffer of its own, a few hundred
 * bytes of memory per byte relayed; with Node's default 16 KiB high-water marks the relay kept reading until 16 Ki of
 * them waited in the target's write queue and another 16 Ki in the client socket's read buffer (several MiB per
 * connection). The relay must stop reading as soon as the target holds bytes back.
 *
 * The relay runs between sockets made as the SOCKS server makes them (accepted with RELAY_SOCKET_OPTIONS, the target
 * dialled by connectTcp with a DirectReads' onread): the state "target stalled, its kernel buffers full" is set up
 * directly by writing more than they hold, which through a SOCKS client would take millions of tiny writes.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { connectTcp, TCP_TUNING } from '../../server/net/dial.ts';
import { DirectReads, relay, RELAY_SOCKET_OPTIONS } from '../../server/net/relay.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const CONNECTIONS = 8;
/** More than the loopback kernel buffers between the relay and a target that never reads take (about 4 MiB). */
const FILL = 24 * 1024 * 1024;
/** Trickled bytes per connection: more than the 16 Ki reads each of the two default-sized buffers took. */
const TRICKLE = 40_000;

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function listening(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SOCKS relay bound', () => {
  it('holds a couple of reads, not thousands, for a client trickling bytes to a stalled target; every byte arrives once it reads again', { timeout: 120_000 }, async () => {
    const targets: Socket[] = [];
    const targetPort = await listening(
      createServer({ allowHalfOpen: true }, (s) => {
        s.pause();
        s.on('error', () => {});
        sockets.push(s);
        targets.push(s);
      }),
    );
    const accepted: Socket[] = [];
    const frontPort = await listening(
      createServer({ allowHalfOpen: true, ...TCP_TUNING, ...RELAY_SOCKET_OPTIONS }, (s) => {
        sockets.push(s);
        accepted.push(s);
      }),
    );
    const fill = Buffer.alloc(FILL);
    const clients: Socket[] = [];
    const relays: Array<Promise<void>> = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const client = createConnection({ port: frontPort, host: '127.0.0.1', noDelay: true });
      sockets.push(client);
      clients.push(client);
      await once(client, 'connect');
      while (accepted.length <= i) await turn();
      const reads = new DirectReads();
      const target = await connectTcp(['127.0.0.1'], targetPort, undefined, reads.onread, RELAY_SOCKET_OPTIONS);
      sockets.push(target);
      // The target's kernel buffers are full and the rest waits in the relay's write queue.
      target.write(fill);
      relays.push(relay(accepted[i]!, target, { idleTimeoutMs: 0 }, reads));
    }
    while (targets.length < CONNECTIONS) await turn();
    for (const t of clients) expect(t.writableLength).toBe(0);

    gc();
    const before = process.memoryUsage();
    // One byte per turn on each connection while its socket takes it: each arrives as a read of its own.
    const one = Buffer.from('x');
    const trickled = clients.map(() => 0);
    for (let n = 0; n < TRICKLE; n++) {
      for (const [i, c] of clients.entries()) {
        if (c.writableLength === 0) {
          c.write(one);
          trickled[i]!++;
        }
      }
      await turn();
    }
    for (let n = 0; n < 10; n++) await turn();
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    // Without the bound: about 30 MiB here (2 x 16 Ki reads per connection).
    expect(grown).toBeLessThan(4 * 1024 * 1024);

    // The target reads again: the fill, then every trickled byte, in order, then the client's FIN.
    const received = await Promise.all(
      targets.map(async (t, i) => {
        // Targets were accepted in the order the relays dialled them.
        const client = clients[i]!;
        let bytes = 0;
        let tail = '';
        t.on('data', (d: Buffer) => {
          bytes += d.length;
          tail = (tail + d.subarray(Math.max(0, d.length - 8)).toString('latin1')).slice(-8);
        });
        t.resume();
        client.end();
        await once(t, 'end');
        t.end();
        return { bytes, tail, expected: FILL + trickled[i]! };
      }),
    );
    for (const r of received) {
      expect(r.bytes).toBe(r.expected);
      expect(r.tail).toBe('xxxxxxxx');
    }
    for (const c of clients) c.destroy();
    await Promise.all(relays);
  });
});
