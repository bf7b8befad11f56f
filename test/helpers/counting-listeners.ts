/** Listeners that only count: every TCP connection accepted (then closed) and every datagram received. */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';

export interface CountingListener {
  host: string;
  port: number;
  /** Connections accepted / datagrams received, with the peer. */
  hits: string[];
  close(): Promise<void>;
}

/** A TCP listener on host:port (0: any free port) that counts each accepted connection and closes it. */
export async function countingTcp(host: string, port = 0): Promise<CountingListener> {
  const hits: string[] = [];
  const server: Server = createServer((s) => {
    hits.push(`${s.remoteAddress}:${s.remotePort}`);
    s.on('error', () => {});
    s.destroy();
  });
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  return {
    host,
    port: (server.address() as { port: number }).port,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A UDP socket on host:port that counts each datagram. */
export async function countingUdp(host: string, port = 0): Promise<CountingListener & { socket: UdpSocket }> {
  const hits: string[] = [];
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (_m, r) => hits.push(`${r.address}:${r.port}`));
  socket.bind(port, host);
  await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([e]) => Promise.reject(e as Error))]);
  return {
    host,
    port: socket.address().port,
    hits,
    socket,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
