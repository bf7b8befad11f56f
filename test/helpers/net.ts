/** Real servers and clients on loopback for integration tests. Every server binds 127.0.0.1 port 0. */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';

export interface Running {
  port: number;
  close(): Promise<void>;
}

async function listen(server: Server | HttpServer, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closer(server: Server | HttpServer, sockets: Set<Socket>): () => Promise<void> {
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

function track(server: Server | HttpServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

/** An HTTP server that answers every request with `body`. */
export async function startHttp(body: string, host = '127.0.0.1'): Promise<Running> {
  const server = createHttpServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  });
  const sockets = track(server);
  return { port: await listen(server, host), close: closer(server, sockets) };
}

/**
 * A TCP echo server on 127.0.0.1 and on ::1 with the same port, for names like `localhost` that may stand for
 * either (a stock Debian /etc/hosts maps it to both; some machines to 127.0.0.1 only).
 */
export async function startEchoOnBothLoopbacks(): Promise<Running> {
  for (let attempt = 0; ; attempt++) {
    const v4 = await startEcho('127.0.0.1');
    const v6 = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    const sockets = track(v6);
    try {
      v6.listen(v4.port, '::1');
      await once(v6, 'listening');
      return { port: v4.port, close: async () => void (await Promise.all([v4.close(), closer(v6, sockets)()])) };
    } catch (err) {
      await v4.close();
      if (attempt >= 10) throw err;
    }
  }
}

/** A TCP echo server. When the client half-closes, it half-closes too (after echoing everything). */
export async function startEcho(host = '127.0.0.1'): Promise<Running & { connections: number }> {
  const state = { connections: 0 };
  const server = createServer({ allowHalfOpen: true }, (s) => {
    state.connections++;
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  const sockets = track(server);
  const port = await listen(server, host);
  return {
    port,
    close: closer(server, sockets),
    get connections() {
      return state.connections;
    },
  };
}

/**
 * A server that reads until the client's FIN, then answers with the byte count it got and closes: proof that a
 * half-close travelled through and the other direction still worked.
 */
export async function startCountThenReply(): Promise<Running> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('end', () => s.end(`got ${n} bytes`));
    s.on('error', () => s.destroy());
  });
  const sockets = track(server);
  return { port: await listen(server), close: closer(server, sockets) };
}

/** A port that was bound and released: connecting to it is refused. */
export { freePort as refusedPort } from '../../server/net/listen.ts';

/** A UDP echo server; it records who sent what. */
export async function startUdpEcho(host = '127.0.0.1'): Promise<Running & { socket: UdpSocket; seen: Array<{ from: string; data: string }> }> {
  const socket = createSocket('udp4');
  const seen: Array<{ from: string; data: string }> = [];
  socket.on('message', (msg, rinfo) => {
    seen.push({ from: `${rinfo.address}:${rinfo.port}`, data: msg.toString() });
    socket.send(msg, rinfo.port, rinfo.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  return {
    port: socket.address().port,
    socket,
    seen,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A raw TCP client for byte-level checks: `read(n)` waits for exactly n bytes. */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  /** The socket error that ended the connection (ECONNRESET for a reset), if one did. */
  error: string | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      // Like an ordinary client, answer the peer's FIN with ours once we have nothing more to say.
      socket.end();
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? err.message));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** `localAddress` picks the client's own address (any of 127.0.0.0/8 works on loopback). */
  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    const socket = connect({ port, host, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** Exactly n bytes; rejects if the connection ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.ended) throw new Error(`connection ended after ${this.buffered.length} of ${n} bytes`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** Everything until the peer's FIN. */
  async readToEnd(): Promise<Buffer> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
    const out = this.buffered;
    this.buffered = Buffer.alloc(0);
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs curl with a 20 s cap; never throws on a non-zero exit. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A port whose accept queue is full, so that a new connection's SYN goes unanswered and connect() hangs: how a
 * silent firewall looks, made on loopback. Node accepts every connection itself, so a small python3 process
 * listens with backlog 0 and never accepts; one connection of ours fills the queue.
 */
export async function blackholePort(): Promise<Running> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'python3',
    ['-c', "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = await once(child.stdout!, 'data');
  const port = Number(String(line).trim());
  const filler = connect({ port, host: '127.0.0.1' });
  filler.on('error', () => {});
  await once(filler, 'connect');
  return {
    port,
    close: async () => {
      filler.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}
