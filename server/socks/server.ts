/** The SOCKS4/4a/5 server: listener, connection limit and shutdown. */
import { createServer, type Server, type Socket } from 'node:net';
import { formatZodError } from '../../shared/config/net-schemas.ts';
import { ConfigError } from '../config-error.ts';
import { boundAddress, listen } from '../net/listen.ts';
import { resolveHost, TCP_TUNING } from '../net/dial.ts';
import { limitLookups } from '../net/lookup-limit.ts';
import { TargetError, TargetErrorCode } from '../net/target-error.ts';
import { RELAY_SOCKET_OPTIONS } from '../net/relay.ts';
import { Credentials } from './credentials.ts';
import { SocksConnection, type ConnectionContext, type SocksLogEntry } from './connection.ts';
import { SocksServerOptionsSchema, type SocksServerOptions, type SocksServerOptionsInput } from './options.ts';
import { resetSocket } from '../net/reset.ts';

export interface SocksServerStats {
  connections: number;
  bindListeners: number;
  udpAssociations: number;
}

export class SocksServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly ctx: ConnectionContext;
  private idleWaiters: Array<() => void> = [];

  private constructor(
    readonly options: SocksServerOptions,
    log: ((entry: SocksLogEntry) => void) | undefined,
  ) {
    this.ctx = {
      options,
      credentials: new Credentials(options.users),
      log,
      resources: { bindListeners: 0, udpAssociations: 0 },
      resolve: limitLookups(resolveHost, options.maxPendingLookups, (max) => new TargetError(TargetErrorCode.FAILED, `${max} DNS lookups in progress; try again later`)),
    };
    this.server = createServer({ allowHalfOpen: true, ...TCP_TUNING, ...RELAY_SOCKET_OPTIONS }, (socket) => this.accept(socket));
  }

  /**
   * Validates the options and starts listening. Rejects with a ConfigError (code ERR_CONFIG_INVALID) for bad
   * options, or the listen error (EADDRINUSE, ...).
   */
  /**
   * Without `log` no log entry is built at all (the client's address is then not even looked up for a connection
   * that no rule needs it for).
   */
  static async start(input: SocksServerOptionsInput = {}, log?: (entry: SocksLogEntry) => void): Promise<SocksServer> {
    const parsed = SocksServerOptionsSchema.safeParse(input);
    if (!parsed.success) throw new ConfigError(`invalid SOCKS server options:\n${formatZodError(parsed.error)}`);
    const server = new SocksServer(parsed.data, log);
    if (parsed.data.gssapi) {
      // Loaded only now: a server without GSS-API never needs python3-gssapi.
      const { RestartingHelper } = await import('../gssapi/gss-helper.ts');
      const { keytab, service } = parsed.data.gssapi;
      server.ctx.gssapi = await RestartingHelper.start({ role: 'accept', service: gssServiceForServer(service), env: { KRB5_KTNAME: keytab.startsWith('FILE:') || keytab.includes(':') ? keytab : `FILE:${keytab}` } });
    }
    try {
      await listen(server.server, parsed.data.host, parsed.data.port);
    } catch (err) {
      await server.ctx.gssapi?.close();
      throw err;
    }
    return server;
  }

  /** The address actually listened on (useful with port 0). */
  get address(): { host: string; port: number } {
    return boundAddress(this.server);
  }

  /** Resolves once no client connection is open (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): SocksServerStats {
    return { connections: this.sockets.size, ...this.ctx.resources };
  }

  /**
   * Graceful stop: no new connections; open ones (handshakes, relays, BIND, UDP associations) may finish for up to
   * `timeoutMs`, then the rest are closed.
   */
  async drain(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = setTimeout(() => this.cutAll(), timeoutMs);
    await closed;
    clearTimeout(deadline);
    await this.ctx.gssapi?.close();
  }

  /** Stops listening and closes every connection, relay, BIND listener and UDP association. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.cutAll();
    await closed;
    await this.ctx.gssapi?.close();
  }

  /**
   * Cuts every client connection with a reset: a plain close would send a relayed client a FIN after the bytes
   * already queued, and a download cut in the middle would pass for a complete one.
   */
  private cutAll(): void {
    for (const s of this.sockets) resetSocket(s);
  }

  private accept(socket: Socket): void {
    if (this.sockets.size >= this.options.maxConnections) {
      this.ctx.log?.({ event: 'denied', client: socket.remoteAddress ?? '', code: 'ERR_SOCKS_TOO_MANY_CONNECTIONS' });
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    new SocksConnection(socket, this.ctx).start();
  }
}

/** `rcmd/host` is the host-based name `rcmd@host`; `rcmd` alone accepts that service on any host in the keytab. */
function gssServiceForServer(service: string): string {
  const slash = service.indexOf('/');
  return slash > 0 && !service.includes('@') ? `${service.slice(0, slash)}@${service.slice(slash + 1)}` : service;
}
