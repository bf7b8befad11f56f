import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetSocket } from '../../../server/net/reset.ts';

let server: ReturnType<typeof createServer>;
let port: number;
const peers: Socket[] = [];

beforeAll(async () => {
  server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    peers.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  for (const s of peers) s.destroy();
  server.close();
});

/** A connected client socket and the server's side of it. */
async function connected(): Promise<[Socket, Socket]> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const s = connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  const [peer] = await accepted;
  return [s, peer];
}

/** How `s` closes: 'close', or the error that came instead ('close' never does after it, in Node 20). */
function outcome(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    s.once('close', () => resolve('close'));
  });
}

describe('resetSocket', () => {
  it('closes a socket whose shutdown is under way (Node 20 resetAndDestroy: EINVAL, and the handle never closes)', async () => {
    const [s] = await connected();
    const how = outcome(s);
    s.end();
    // end() calls _final (the shutdown request) on the next tick: reset right after it, while the request is pending.
    await new Promise<void>((r) => process.nextTick(r));
    resetSocket(s);
    expect(await how).toBe('close');
  });

  it('sends an RST when no shutdown is under way', async () => {
    const [s, peer] = await connected();
    const seen = new Promise<string | undefined>((resolve) => peer.once('close', () => resolve((peer.errored as NodeJS.ErrnoException | null)?.code)));
    peer.resume();
    resetSocket(s);
    expect(await seen).toBe('ECONNRESET');
  });
});
