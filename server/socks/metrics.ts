/** Prometheus metrics of `wsocks socks` (prom-client), fed by its log entries; served on `--metrics HOST:PORT`. */
import { Counter, Registry } from 'prom-client';
import { registerGauges } from '../net/metrics-http.ts';
import type { SocksLogEntry } from './connection.ts';
import type { SocksServerStats } from './server.ts';

export class SocksMetrics {
  readonly registry = new Registry();
  private readonly events = new Counter({
    name: 'wsocks_socks_events_total',
    help: 'SOCKS server log events (request, denied, failed, protocol-error, udp-drop), by event, SOCKS version, command and error code',
    labelNames: ['event', 'version', 'command', 'code'],
    registers: [this.registry],
  });

  constructor(stats: () => SocksServerStats) {
    registerGauges(this.registry, [
      ['wsocks_socks_connections', 'Client connections open now', () => stats().connections],
      ['wsocks_socks_bind_listeners', 'BIND listeners open now', () => stats().bindListeners],
      ['wsocks_socks_udp_associations', 'UDP associations open now', () => stats().udpAssociations],
    ]);
  }

  record(e: SocksLogEntry): void {
    this.events.inc({ event: e.event, version: e.version === undefined ? '' : String(e.version), command: e.command ?? '', code: e.code ?? '' });
  }
}
