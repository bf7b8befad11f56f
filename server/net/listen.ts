/** Listening on HOST:PORT as a promise, and reading back the address actually bound. */
import { createServer, type Server } from 'node:net';

/** Resolves once listening; rejects with the listen error (EADDRINUSE, EACCES, ...). */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function boundAddress(server: Server): { host: string; port: number } {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('not listening');
  return { host: a.address, port: a.port };
}

/** A port nothing listens on right now (bound, then released): connecting to it is refused, and it is free to bind. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await listen(server, host, 0);
  const { port } = boundAddress(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
