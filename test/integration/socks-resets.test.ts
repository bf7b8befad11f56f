/**
 * Resets and closes at the worst moments on our SOCKS server's relay: a client that closes right after its request
 * or right after the CONNECT reply, a target reset while the client has half-closed, a client reset while the target
 * writes, the drain deadline cutting relays with bytes in flight both ways. Nothing may be left behind (no socket at
 * the target, no connection in the server, no file descriptor), nothing may crash, and an incomplete stream must
 * never look complete: where bytes were lost the peer gets a reset, never a FIN.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeSocks5Request, fromHex } from '../../shared/socks/index.ts';
import { RawClient } from '../helpers/net.ts';
import { payload, readSocketToEnd, sha256, startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';
import { socketFds } from '../helpers/socket-fds.ts';

const MiB = 1024 * 1024;
let target: ScriptedTarget;

/**
 * A SOCKS5 client in Python, reading with plain recv(): Node reports a reset that arrives while a socket reads as
 * an ordinary end of stream (seen with Node 20 on Linux 6.18; likely libuv taking the POLLHUP for EOF), so only a client outside
 * libuv can tell a reset from a FIN. It CONNECTs to `targetPort`, sends `up` bytes (then half-closes, with
 * `halfClose`), reads until EOF or reset (a send that failed counts as the reset), prints `flowing` once 1 MiB came, and at the end `eof N` or `reset N`;
 * with `cutAfter` it resets the connection itself (SO_LINGER 0) once that many bytes came, and prints `cut N`.
 */
const PY_CLIENT = `
import socket, struct, sys, threading
port, tport, up, half, cut = (int(a) for a in sys.argv[1:6])
s = socket.create_connection(('127.0.0.1', port))
s.sendall(bytes([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1]) + struct.pack('>H', tport))
r = b''
while len(r) < 12:
    d = s.recv(12 - len(r))
    if not d: sys.exit('no reply')
    r += d
send_failed = False
def send():
    global send_failed
    try:
        left = up
        while left > 0:
            n = min(left, 65536)
            s.sendall(b'u' * n)
            left -= n
        if half: s.shutdown(socket.SHUT_WR)
    except OSError:
        send_failed = True
sender = threading.Thread(target=send, daemon=True)
sender.start()
got, said = 0, False
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            # A reset is reported once, to the first call that asks: the sending thread may have had it.
            sender.join(10)
            print('reset' if send_failed else 'eof', got, flush=True)
            break
        got += len(d)
        if not said and got >= 1 << 20:
            print('flowing', flush=True)
            said = True
        if cut and got >= cut:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
            print('cut', got, flush=True)
            break
except ConnectionResetError:
    print('reset', got, flush=True)
`;

interface PyClient {
  /** Resolves when the client printed a line starting with `word`. */
  line(word: string): Promise<string>;
  /** The last line: how the connection ended (`eof`, `reset` or `cut`). */
  ended: Promise<string>;
}

function pyClient(serverPort: number, targetPort: number, o: { up?: number; halfClose?: boolean; cutAfter?: number } = {}): PyClient {
  const child = spawn('python3', ['-c', PY_CLIENT, String(serverPort), String(targetPort), String(o.up ?? 0), o.halfClose ? '1' : '0', String(o.cutAfter ?? 0)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let waiters: Array<() => void> = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) lines.push(buf.slice(0, i));
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const exited = once(child, 'exit');
  const line = async (word: string): Promise<string> => {
    for (;;) {
      const l = lines.find((x) => x.startsWith(word));
      if (l !== undefined) return l;
      if (child.exitCode !== null) throw new Error(`python client exited without "${word}": ${lines.join(' | ')}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), exited]);
    }
  };
  return { line, ended: exited.then(() => lines.at(-1)?.split(' ')[0] ?? 'nothing') };
}

beforeAll(async () => {
  target = await startScripted();
});
afterAll(async () => {
  await target?.close();
});

function request(port: number): Buffer {
  return Buffer.concat([fromHex('05 01 00'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port })]);
}

/** A target that writes `chunk` for as long as it can, and reads (and drops) what it gets. */
function flooding(s: Socket): void {
  const chunk = Buffer.alloc(256 * 1024, 9);
  s.resume();
  const pump = () => {
    while (!s.destroyed && s.write(chunk));
    if (!s.destroyed) s.once('drain', pump);
  };
  pump();
}

/** How the target's side of the connection ended: 'reset' (ECONNRESET/EPIPE), 'fin', or 'closed'. */
function targetEnd(s: Socket): Promise<string> {
  let fin = false;
  s.once('end', () => (fin = true));
  return new Promise((resolve) =>
    s.once('close', () => {
      const code = (s.errored as NodeJS.ErrnoException | null)?.code;
      resolve(code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : fin ? 'fin' : 'closed');
    }),
  );
}

it('clients that close right after the request or right after the CONNECT reply leave no socket anywhere', { timeout: 120_000 }, async () => {
  const server = await SocksServer.start({ port: 0 });
  try {
    const fds = socketFds();
    target.script = (s) => {
      s.resume();
      s.once('end', () => s.end());
    };
    const ways = ['reset after request', 'fin after request', 'reset after reply', 'fin after reply', 'reset after reply + data'];
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        ways.map(async (way) => {
          const c = await RawClient.connect(server.address.port);
          c.send(request(target.port));
          if (way.endsWith('after request')) {
            if (way.startsWith('reset')) c.socket.resetAndDestroy();
            else c.socket.end();
          } else {
            await c.read(2 + 10);
            if (way.endsWith('data')) c.send(Buffer.alloc(100_000, 1));
            if (way.startsWith('reset')) c.socket.resetAndDestroy();
            else c.socket.end();
          }
          await c.closed;
        }),
      );
    }
    await server.whenIdle();
    await target.idle();
    expect(server.stats().connections).toBe(0);
    expect(socketFds()).toBe(fds);
  } finally {
    await server.close();
  }
});

it('the target resets while the client has half-closed, bytes in flight both ways: the client gets a reset, not a FIN', { timeout: 60_000 }, async () => {
  const server = await SocksServer.start({ port: 0 });
  try {
    const fds = socketFds();
    let ended!: Promise<string>;
    target.script = (s) => {
      // 2 MiB to the client, still on their way when the reset comes.
      s.write(Buffer.alloc(2 * MiB, 8));
      let got = 0;
      s.on('data', (d: Buffer) => (got += d.length));
      // Once the client's FIN has come through: the reset.
      s.once('end', () => {
        if (got === 2 * MiB) s.resetAndDestroy();
      });
      ended = targetEnd(s);
    };
    const c = pyClient(server.address.port, target.port, { up: 2 * MiB, halfClose: true });
    expect(await c.ended).toBe('reset');
    await ended;
    await server.whenIdle();
    await target.idle();
    expect(socketFds()).toBe(fds);
  } finally {
    await server.close();
  }
});

it('the client resets while the target writes and reads: the target gets a reset', { timeout: 60_000 }, async () => {
  const server = await SocksServer.start({ port: 0 });
  try {
    const fds = socketFds();
    let ended!: Promise<string>;
    target.script = (s) => {
      flooding(s);
      ended = targetEnd(s);
    };
    const c = pyClient(server.address.port, target.port, { up: 4 * MiB, cutAfter: 3 * MiB });
    expect(await c.ended).toBe('cut');
    expect(await ended).toBe('reset');
    await server.whenIdle();
    await target.idle();
    expect(socketFds()).toBe(fds);
  } finally {
    await server.close();
  }
});

it.each([
  ['drain deadline', 0],
  ['drain deadline', 8 * MiB],
  ['close()', 0],
  ['close()', 8 * MiB],
])('the %s cuts relays downloading (%i bytes uploading): the client gets a reset, never a FIN', { timeout: 60_000 }, async (how, up) => {
  const fds = socketFds();
  const server = await SocksServer.start({ port: 0 });
  const ends: Array<Promise<string>> = [];
  target.script = (s) => {
    flooding(s);
    ends.push(targetEnd(s));
  };
  const clients = Array.from({ length: 3 }, () => pyClient(server.address.port, target.port, { up }));
  await Promise.all(clients.map((c) => c.line('flowing')));
  if (how === 'close()') await server.close();
  else await server.drain(50);
  // A FIN would tell the client its download is complete: it is not.
  expect(await Promise.all(clients.map((c) => c.ended))).toEqual(['reset', 'reset', 'reset']);
  expect(await Promise.all(ends)).toEqual(['reset', 'reset', 'reset']);
  await target.idle();
  expect(socketFds()).toBe(fds);
});

it('a relay that ends within the drain deadline delivers every byte both ways, to a client that reads late', { timeout: 60_000 }, async () => {
  const fds = socketFds();
  const server = await SocksServer.start({ port: 0 });
  const down = payload(16 * MiB);
  const up = payload(4 * MiB);
  let upSha!: Promise<string>;
  target.script = (s) => {
    upSha = readSocketToEnd(s).then(sha256);
    s.end(down.data);
  };
  const c = await RawClient.connect(server.address.port);
  c.send(request(target.port));
  await c.read(12);
  c.socket.pause();
  c.socket.end(up.data);
  const draining = server.drain(60_000);
  // The client reads only once the server is draining.
  c.socket.resume();
  const got = await c.readToEnd();
  expect(sha256(got)).toBe(down.sha);
  expect(await upSha).toBe(up.sha);
  await c.closed;
  await draining;
  await target.idle();
  expect(socketFds()).toBe(fds);
});
