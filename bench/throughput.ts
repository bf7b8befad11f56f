/** Loopback throughput helpers for benchmarks: a source that sends N bytes, and a timed receive. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { SocksClient } from 'socks';

/** A server that sends `bytes` of data to each connection, then closes it. */
export async function startSource(bytes: number): Promise<{ port: number; server: Server }> {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const server = createServer((s) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    s.on('error', () => s.destroy());
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, server };
}

/** Reads a socket to its end; resolves with bytes received and seconds taken from `start`. */
export function drain(socket: Socket, start: bigint): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve({ bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
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

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
