/** Loopback throughput helpers for benchmarks: a source that sends N bytes, a sink that counts, and timed receives. */
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { SocksClient } from 'socks';

/**
 * A server that sends `bytes` of data to each connection, then closes it; or, with `hold`, keeps it open until the
 * client closes (the client knows the length, as with HTTP's Content-Length).
 */
export async function startSource(bytes: number, hold = false): Promise<Source> {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const server = createServer((s) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      if (hold) s.once('end', () => s.destroy());
      else s.end();
    };
    s.on('error', () => s.destroy());
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

/** A loopback source (startSource): its port, and close() to stop listening. */
export interface Source {
  port: number;
  close(): void;
}

export interface Sink {
  port: number;
  /** Resolves with the byte count of the next connection to end (uploads run one at a time). */
  next(): Promise<number>;
  /** Resolves once the current connection has received `n` bytes. */
  reached(n: number): Promise<void>;
  close(): void;
}

/** A server that reads each connection to its end and reports how many bytes it got. */
export async function startSink(): Promise<Sink> {
  const waiters: Array<(n: number) => void> = [];
  let current = 0;
  let goal: { n: number; resolve: () => void } | undefined;
  const server = createServer({ allowHalfOpen: false }, (s) => {
    let bytes = 0;
    current = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      waiters.shift()?.(bytes);
    };
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      current = bytes;
      if (goal && current >= goal.n) {
        goal.resolve();
        goal = undefined;
      }
    });
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', () => s.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    reached: (n) => (current >= n ? Promise.resolve() : new Promise((resolve) => (goal = { n, resolve }))),
    close: () => server.close(),
  };
}

/** A target that accepts connections and keeps them open, silent. */
export async function startSilentTarget(): Promise<Source> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Seconds since `start` (a process.hrtime.bigint()). */
export function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Reads a socket to its end; resolves with bytes received and seconds taken from `start`. */
export function drain(socket: Socket, start: bigint): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve({ bytes, seconds: elapsed(start) });
    });
  });
}

export async function direct(port: number): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const s = connect({ port, host: '127.0.0.1' });
  return drain(s, start);
}

export async function viaSocks5(proxyPort: number, port: number): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
  });
  return drain(socket, start);
}


/** Writes `total` bytes straight to the sink over TCP and ends; done when the sink has read them all. */
export async function directUpload(sink: Sink, total: number, chunk: Buffer): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const received = sink.next();
  const s = connect({ port: sink.port, host: '127.0.0.1' });
  await once(s, 'connect');
  for (let sent = 0; sent < total; ) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await once(s, 'drain');
  }
  s.end();
  const bytes = await received;
  return { bytes, seconds: elapsed(start) };
}

/** SOCKS5 CONNECT and close, `total` times, `concurrency` at a time; `bytes` is the count that succeeded. */
export async function connectRate(proxyPort: number, port: number, total: number, concurrency: number): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  let started = 0;
  let done = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
        command: 'connect',
        destination: { host: '127.0.0.1', port },
      });
      socket.destroy();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { bytes: done, seconds: elapsed(start) };
}
