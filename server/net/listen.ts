/** Listening on HOST:PORT as a promise, and reading back the address actually bound. */
import type { Server } from 'node:net';

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
