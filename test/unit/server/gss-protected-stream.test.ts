/**
 * RFC 1961 §5 encapsulation over a real TCP connection on loopback, with stand-in wrap/unwrap (the Kerberos ones are
 * exercised in test/integration/gssapi.test.ts): framing, order, backpressure against a flooding peer, and the ways
 * a peer can end or break the protected stream.
 */
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { GssProtectedStream, type ProtectionOps } from '../../../server/gssapi/protected-stream.ts';
import { encodeGssMessage, GssFrameReader } from '../../../shared/socks/gssapi.ts';

/** "Wrap" = a marker byte, the conf flag, then the data; unwrap checks and strips them (asynchronously, like the helper). */
const ops: ProtectionOps = {
  wrap: async (data, confidential) => Buffer.concat([Buffer.from([0x77, confidential ? 1 : 0]), data]),
  unwrap: async (token) => {
    if (token[0] !== 0x77) throw new Error('bad token');
    return token.subarray(2);
  },
};

const opened: Socket[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
});

/** A connected pair: `ours` (wrapped by the stream) and `peer` (plays the other side's raw bytes). */
async function pair(): Promise<{ ours: Socket; peer: Socket }> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const ours = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const [peer] = (await accepted) as [Socket];
  await once(ours, 'connect');
  server.close();
  opened.push(ours, peer);
  return { ours, peer };
}

const message = (data: Uint8Array | string) => encodeGssMessage(0x03, Buffer.concat([Buffer.from([0x77, 1]), Buffer.from(data)]));

describe('GssProtectedStream', () => {
  it('seals writes as encapsulated messages of at most 32 KiB of data, and unwraps what arrives, in order', async () => {
    const { ours, peer } = await pair();
    const stream = new GssProtectedStream(ours, ops, true, message('early '));
    const got: Buffer[] = [];
    stream.on('data', (d: Buffer) => got.push(d));
    peer.write(Buffer.concat([message('one '), message('two')]));
    const big = Buffer.alloc(70_000, 0x61);
    stream.end(big);
    const reader = new GssFrameReader();
    const tokens: Uint8Array[] = [];
    peer.on('data', (d: Buffer) => tokens.push(...reader.push(d)));
    await once(peer, 'end');
    expect(tokens.map((t) => t.length - 2)).toEqual([32768, 32768, 70_000 - 65536]);
    expect(tokens.every((t) => t[0] === 0x77 && t[1] === 1)).toBe(true);
    peer.end();
    await once(stream, 'end');
    expect(Buffer.concat(got).toString()).toBe('early one two');
  });

  it('stops reading a peer that floods while nobody reads, and delivers every byte once read', async () => {
    const { ours, peer } = await pair();
    const stream = new GssProtectedStream(ours, ops, false, new Uint8Array(0));
    stream.pause();
    const chunk = message(Buffer.alloc(16 * 1024, 0x62));
    let sent = 0;
    // Write until the path is full: no 'drain' for 500 ms while the stream is not read (as bridge-peers' source does).
    await new Promise<void>((resolve) => {
      const pump = () => {
        for (;;) {
          sent += 16 * 1024;
          if (!peer.write(chunk)) break;
        }
        const stalled = setTimeout(resolve, 500);
        peer.once('drain', () => (clearTimeout(stalled), pump()));
      };
      pump();
    });
    // The kernel holds most of it; what the stream read stays near its queue bound.
    expect(sent).toBeGreaterThan(ours.bytesRead);
    expect(ours.bytesRead).toBeLessThan(1024 * 1024);
    peer.removeAllListeners('drain');
    peer.end();
    let received = 0;
    stream.on('data', (d: Buffer) => (received += d.length));
    stream.resume();
    await once(stream, 'end');
    expect(received).toBe(sent);
  }, 60_000);

  it('a stream that ends inside a message, or a token that does not unwrap, is an error, not an end', async () => {
    const a = await pair();
    const cut = new GssProtectedStream(a.ours, ops, false, new Uint8Array(0));
    cut.resume();
    a.peer.end(message('whole').subarray(0, 6));
    const [err] = (await once(cut, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    const b = await pair();
    const bad = new GssProtectedStream(b.ours, ops, false, new Uint8Array(0));
    bad.resume();
    b.peer.write(encodeGssMessage(0x03, Buffer.from('forged')));
    const [err2] = (await once(bad, 'error')) as [Error];
    expect(err2.message).toBe('bad token');
    // The protected stream's failure closes the connection under it.
    await once(b.peer, 'end');
    const c = await pair();
    const aborted = new GssProtectedStream(c.ours, ops, false, new Uint8Array(0));
    aborted.resume();
    c.peer.write(Buffer.from([1, 0xff]));
    const [err3] = (await once(aborted, 'error')) as [NodeJS.ErrnoException];
    expect(err3.code).toBe('ERR_GSSAPI_REJECTED');
  });
});
