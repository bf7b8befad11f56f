/** Prometheus metrics of a bridge (prom-client), fed by its events; served on /metrics. */
import { Counter, Histogram, Registry } from 'prom-client';
import { registerGauges } from '../net/metrics-http.ts';
import { DENIAL_CODES, type BridgeEvent } from './events.ts';

export class BridgeMetrics {
  readonly registry = new Registry();
  private readonly sessionsTotal = new Counter({
    name: 'wsocks_sessions_total',
    help: 'Sessions accepted, by protocol (wsocks, wisp, websockify)',
    labelNames: ['protocol'],
    registers: [this.registry],
  });
  private readonly streamsTotal = new Counter({
    name: 'wsocks_streams_total',
    help: 'Streams opened successfully, by command, route (route name, direct, or via) and protocol',
    labelNames: ['command', 'route', 'protocol'],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'wsocks_bytes_total',
    help: 'Stream payload bytes, by direction (up: client to target, down: target to client) and protocol',
    labelNames: ['direction', 'protocol'],
    registers: [this.registry],
  });
  private readonly openSeconds = new Histogram({
    name: 'wsocks_stream_open_seconds',
    help: 'Time from open to opened (connect and every SOCKS handshake), by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly errors = new Counter({ name: 'wsocks_errors_total', help: 'Error messages sent to clients, by code', labelNames: ['code'], registers: [this.registry] });
  private readonly denials = new Counter({
    name: 'wsocks_policy_denials_total',
    help: 'Opens refused by policy, token scope, unknown route or disabled client chains, by error code',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly refused = new Counter({ name: 'wsocks_refused_upgrades_total', help: 'Upgrades refused, by error code', labelNames: ['reason'], registers: [this.registry] });
  private readonly closes = new Counter({
    name: 'wsocks_session_closes_total',
    help: 'Sessions ended, by WebSocket close code and protocol',
    labelNames: ['code', 'protocol'],
    registers: [this.registry],
  });

  constructor(stats: () => { sessions: number; streams: number; bufferedBytes: number }, draining: () => boolean) {
    registerGauges(this.registry, [
      ['wsocks_sessions', 'Sessions open now', () => stats().sessions],
      ['wsocks_streams', 'Streams open now', () => stats().streams],
      ['wsocks_buffered_bytes', 'Bytes queued for clients and not yet written', () => stats().bufferedBytes],
      ['wsocks_draining', '1 while the bridge drains (SIGTERM)', () => (draining() ? 1 : 0)],
    ]);
  }

  /** Counts one event. */
  record(e: BridgeEvent): void {
    switch (e.event) {
      case 'session_start':
        return this.sessionsTotal.inc({ protocol: e.protocol });
      case 'session_end':
        return this.closes.inc({ code: String(e.closeCode), protocol: e.protocol });
      case 'stream_open':
        this.streamsTotal.inc({ command: e.command, route: e.route, protocol: e.protocol });
        return this.openSeconds.observe({ route: e.route }, e.latencyMs / 1000);
      case 'stream_end':
        this.bytes.inc({ direction: 'up', protocol: e.protocol }, e.bytesUp);
        return this.bytes.inc({ direction: 'down', protocol: e.protocol }, e.bytesDown);
      case 'error':
        this.errors.inc({ code: e.code });
        if (DENIAL_CODES.has(e.code)) this.denials.inc({ reason: e.code });
        return;
      case 'upgrade_refused':
        return this.refused.inc({ reason: e.code });
    }
  }
}
