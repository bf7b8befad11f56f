/** A small HTTP listener that serves a prom-client registry on GET /metrics (and 404 elsewhere). */
import { createServer, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { boundAddress, listen } from './listen.ts';

/** Adds gauges read at scrape time (name, help, reader), and the process's default metrics, to `registry`. */
export function registerGauges(registry: Registry, gauges: ReadonlyArray<readonly [name: string, help: string, read: () => number]>): void {
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  collectDefaultMetrics({ register: registry });
}

/** Writes the registry's text exposition to `res` (500 if a collector throws). */
export async function writeMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`metrics failed: ${(err as Error).message}\n`);
  }
}

export interface MetricsListener {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Listens on host:port for /metrics; rejects with the listen error (EADDRINUSE, ...). */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] === '/metrics') return void writeMetrics(registry, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: metrics are on /metrics\n');
  });
  await listen(server, host, port);
  return {
    address: boundAddress(server),
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
