/**
 * Answers to a client's bad messages, held for a client that does not read, are bounded by the session's outgoing
 * bound (docs/bridge.md: `2B + X`): the count the bound is checked against must be what the bridge really holds.
 * Each answer used to be a WebSocket message of its own (a write request, two Buffer objects, a callback: about
 * half a KiB of heap) while the bound counted only its bytes, so the bridge held several times the bound.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { clientFrame, tcpSession } from '../helpers/raw-session.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
/** maxBufferedBytes: larger than the answers to one 64 KiB read of 8-byte messages, so the session congests, not closes. */
const B = 4 * MiB;

let bridge: BridgeServer;
let answers = 0;

beforeAll(async () => {
  bridge = await BridgeServer.start(
    { listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, limits: { maxBufferedBytes: B, overloadTimeoutMs: 120_000 } },
    { onEvent: (e) => void (e.event === 'error' && answers++) },
  );
});
afterAll(async () => {
  await bridge?.close();
});

function held(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

it('a client that sends only bad messages and reads nothing: the bridge holds about what it counts', { timeout: 120_000 }, async () => {
  const { socket } = await tcpSession(bridge.address.port);
  socket.pause();
  // 16 MiB of 8-byte messages (`{}`), each answered with an ERR_BAD_MESSAGE of about 200 bytes.
  const one = clientFrame(0x1, '{}');
  const flood = Buffer.alloc(16 * MiB - ((16 * MiB) % one.length));
  for (let at = 0; at < flood.length; at += one.length) one.copy(flood, at);
  const before = held();
  socket.write(flood);
  // The session congests (it stops reading the client): nothing more comes in, what it holds stays.
  while (bridge.stats().bufferedBytes <= B) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setImmediate(r));
  const growth = held() - before;
  const counted = bridge.stats().bufferedBytes;
  expect(bridge.stats().sessions).toBe(1);
  expect(answers).toBeGreaterThan(10_000);
  // Before answers were packed: 7.3 times what was counted (34 MB for 4.6 MB counted).
  expect(growth, `held ${growth} bytes for ${counted} counted`).toBeLessThan(1.5 * counted + 2 * MiB);
  socket.destroy();
  while (bridge.stats().sessions > 0) await new Promise((r) => setTimeout(r, 20));
});
