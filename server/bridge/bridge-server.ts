/** The bridge: an HTTP server that upgrades checked requests to WebSocket sessions. */
import { Initiators } from '../gssapi/initiators.ts';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config-error.ts';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeReason } from '../../shared/protocol/close-codes.ts';
import { WsocksError } from '../../shared/protocol/errors.ts';
import { PROTOCOL_VERSION } from '../../shared/protocol/messages.ts';
import { unmapIPv4 } from '../net/dial.ts';
import { boundAddress, listen } from '../net/listen.ts';
import { parseBridgeConfig, type BridgeConfig, type BridgeConfigInput } from './config.ts';
import { TargetPolicy } from './policy.ts';
import { makeResolver } from '../net/resolver.ts';
import { limitLookups, type LimitedResolve } from '../net/lookup-limit.ts';
import { BridgeSession, type SessionContext } from './session.ts';
import { offersProtocol, originAccepted, presentedToken, refuse, WsocksErrorCode, type Refusal } from './upgrade-checks.ts';
import { clientAddress } from './client-address.ts';
import { proxiedFront, type ProxiedFront } from './proxied-connections.ts';
import { type BridgeEvent } from './events.ts';
import { BridgeMetrics } from './metrics.ts';
import { serveMetrics, writeMetrics, type MetricsListener } from '../net/metrics-http.ts';
import { TokenVerifier, type SessionGrant, type TokenCheck } from './tokens.ts';
import { WispSession } from './compat/wisp-session.ts';
import type { WispEndpointConfig } from './config.ts';
import { WebsockifySession, websockifyProtocolOf, websockifyProtocolOk, websockifyTarget } from './compat/websockify.ts';
import { parseWsproxyTarget, type WsproxyTarget } from './compat/wsproxy-target.ts';

/** What the bridge keeps of every accepted WebSocket, whatever its protocol. */
interface HostedSession {
  readonly closed: Promise<void>;
  readonly streamCount: number;
  readonly bufferedBytes: number;
  drain(message: string): void;
  closeWith(code: Parameters<BridgeSession['closeWith']>[0], message: string): void;
}

/** Which protocol a request's path selects: wsocks.v1 at any path but a configured compat one (docs/compat.md). */
type Endpoint =
  | { kind: 'wsocks' }
  | { kind: 'websockify'; found: ReturnType<typeof websockifyTarget> }
  | { kind: 'wisp'; endpoint: WispEndpointConfig; token: string | undefined }
  | { kind: 'wsproxy'; endpoint: WispEndpointConfig; token: string | undefined; target: WsproxyTarget };

/** How long a refused WebSocket may take to answer the bridge's close frame before its socket is cut. */
const REFUSAL_LINGER_MS = 5_000;

const DRAIN_MESSAGE = 'the bridge is shutting down';

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
  res.end(body);
}

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Reads the PEM certificate chain and key named by `tls` (ConfigError naming the file on failure). */
async function readTlsFiles(tls: { cert: string; key: string }): Promise<TlsFiles> {
  const read = async (field: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new ConfigError(`tls.${field}: ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const files = { cert: await read('cert', tls.cert), key: await read('key', tls.key) };
  try {
    createSecureContext(files);
  } catch (err) {
    throw new ConfigError(`tls: ${tls.cert} / ${tls.key}: ${(err as Error).message}`);
  }
  return files;
}

export interface BridgeStartOptions {
  /** Log lines (refusals, failed streams); never tokens or passwords. */
  log?: (line: string) => void;
  /** Names the config's origin in error messages (a file path). */
  source?: string;
  /** Serves plain HTTP requests on the bridge's port (the demo serves its UI this way, same-origin). */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Structured records: session start/end, stream open/end, errors sent, refused upgrades (docs/deploy.md). */
  onEvent?: (e: BridgeEvent) => void;
}

export class BridgeServer {
  private readonly http: Server;
  /** Listens for TCP and hands connections to `http`, after reading a trusted proxy's PROXY header. */
  private readonly front: ProxiedFront;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<HostedSession>();
  private readonly perClient = new Map<string, number>();
  private policy!: TargetPolicy;
  private resolve!: LimitedResolve;
  /** Refused WebSockets waiting for their closing handshake. */
  private readonly refusing = new Set<WebSocket>();
  /** What new sessions get (config, policy, resolver); a reload makes a new one, open sessions keep theirs. */
  private sessionContext!: SessionContext;
  private tokens!: TokenVerifier;
  private current!: BridgeConfig;
  /** Set by `drain`: no new sessions, /readyz answers 503. */
  private draining = false;
  /** Prometheus metrics, on /metrics (here, or on `config.metrics.listen`). */
  readonly metrics: BridgeMetrics;
  /** The separate listener for /metrics, with `config.metrics.listen`. */
  private metricsHttp: MetricsListener | undefined;
  private sessionsSoFar = 0;
  /** Kept across reloads: helpers hold tickets; ones no route uses any more cost only an idle process. */
  private readonly gssapi = new Initiators();
  private readonly emit: (e: BridgeEvent) => void;
  /** The HTTPS server, with `tls` (its certificate is replaced on reload). */
  private readonly tlsServer: HttpsServer | undefined;

  private constructor(
    config: BridgeConfig,
    private readonly log: (line: string) => void,
    onRequest: BridgeStartOptions['onRequest'],
    onEvent: BridgeStartOptions['onEvent'],
    tls: TlsFiles | undefined,
  ) {
    this.metrics = new BridgeMetrics(() => this.stats(), () => this.draining);
    this.emit = (e) => {
      this.metrics.record(e);
      onEvent?.(e);
    };
    this.apply(config);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.limits.maxMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (protocols, req) =>
        this.endpointOf(req).kind === 'websockify' || this.endpointOf(req).kind === 'wsproxy'
          ? websockifyProtocolOf(protocols)
          : // Wisp v2: any subprotocol offered (the spec leaves its value open; wisp-js says `wisp-v2`); v1: none.
            this.endpointOf(req).kind === 'wisp' ? (protocols.values().next().value ?? false)
          : protocols.has(PROTOCOL_VERSION) ? PROTOCOL_VERSION : false,
      // Sessions answer pings themselves, within their outgoing buffer bound (ws would drop a burst of 60 with 1006).
      autoPong: false,
    });
    const handler = (req: IncomingMessage, res: ServerResponse) => this.request(req, res, onRequest);
    this.http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
    this.tlsServer = tls ? (this.http as HttpsServer) : undefined;
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.front = proxiedFront(this.http, config.trustedProxies, log);
  }

  /** The config in force for new sessions (replaced by `reload`). */
  get config(): BridgeConfig {
    return this.current;
  }

  private apply(config: BridgeConfig): void {
    this.current = config;
    this.policy = new TargetPolicy(config.policy);
    this.tokens = new TokenVerifier(config.tokens, config.signedTokens);
    this.resolve = limitLookups(
      makeResolver(config.dns?.servers),
      config.limits.maxPendingLookups,
      (max) => new WsocksError(WsocksErrorCode.BRIDGE_FULL, `the bridge has ${max} DNS lookups in progress; try again later`),
    );
    this.sessionContext = {
      config,
      policy: this.policy,
      resolve: this.resolve,
      log: this.log,
      streamsOpen: () => this.stats().streams,
      emit: this.emit,
      sessionNumber: () => ++this.sessionsSoFar,
      gssapi: this.gssapi,
    };
    // ws reads maxPayload for each new connection.
    if (this.wss) (this.wss.options as { maxPayload: number }).maxPayload = config.limits.maxMessageBytes;
  }

  /**
   * SIGHUP: validates `input` and reads its TLS files; any problem throws (ConfigError naming the field, or the
   * file error) and the old config stays. Otherwise new sessions get the new tokens, keys, policy, routes, origins,
   * limits and TLS certificate; open sessions keep what they started with. `listen`, `trustedProxies`,
   * `metrics.listen` and turning TLS on or off need a restart (a warning is logged and they stay as they are).
   */
  async reload(input: BridgeConfigInput, source = 'config'): Promise<void> {
    const next = parseBridgeConfig(input, source);
    const tls = next.tls ? await readTlsFiles(next.tls) : undefined;
    if (Boolean(tls) !== Boolean(this.tlsServer)) throw new ConfigError(`${source}: turning tls on or off needs a restart`);
    const old = this.current;
    for (const [field, changed] of [
      ['listen', `${old.listen.host}:${old.listen.port}` !== `${next.listen.host}:${next.listen.port}`],
      ['trustedProxies', JSON.stringify(old.trustedProxies) !== JSON.stringify(next.trustedProxies)],
      ['metrics.listen', JSON.stringify(old.metrics?.listen) !== JSON.stringify(next.metrics?.listen)],
    ] as const) {
      if (changed) this.log(`reload: ${field} changed; it takes effect on restart`);
    }
    if (tls) this.tlsServer!.setSecureContext({ cert: tls.cert, key: tls.key });
    this.apply({ ...next, listen: old.listen, trustedProxies: old.trustedProxies, metrics: old.metrics });
  }

  /** Validates the config (ConfigError naming the field) and listens on `config.listen`. */
  static async start(input: BridgeConfigInput, options: BridgeStartOptions = {}): Promise<BridgeServer> {
    const config = parseBridgeConfig(input, options.source ?? 'config');
    const tls = config.tls ? await readTlsFiles(config.tls) : undefined;
    const server = new BridgeServer(config, options.log ?? (() => {}), options.onRequest, options.onEvent, tls);
    await listen(server.front.server, config.listen.host, config.listen.port);
    // The HTTP server does not listen itself (the front hands it connections), but it must do what it does once
    // listening: track its connections, so that headersTimeout/requestTimeout apply and close() ends idle ones.
    server.http.emit('listening');
    if (config.metrics?.listen) {
      try {
        server.metricsHttp = await serveMetrics(server.metrics.registry, config.metrics.listen.host, config.metrics.listen.port);
      } catch (err) {
        await server.close();
        throw err;
      }
    }
    return server;
  }

  get address(): { host: string; port: number } {
    return boundAddress(this.front.server);
  }

  /** Where /metrics is served when `config.metrics.listen` is set. */
  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsHttp?.address;
  }

  /** `ws://host:port/` of this bridge. */
  get url(): string {
    const { host, port } = this.address;
    return `${this.tlsServer ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  }

  /** Open sessions and streams, and the bytes queued for clients and not yet written (all sessions). */
  stats(): { sessions: number; streams: number; bufferedBytes: number } {
    let streams = 0;
    let bufferedBytes = 0;
    for (const s of this.sessions) {
      streams += s.streamCount;
      bufferedBytes += s.bufferedBytes;
    }
    return { sessions: this.sessions.size, streams, bufferedBytes };
  }

  /**
   * A refused request that offers wsocks.v1 is accepted and closed at once with the refusal's close code and
   * `<CODE> <message>` reason, which a browser can read (docs/protocol.md §1). It counts against maxSessions until
   * its socket is gone, and is cut off after REFUSAL_LINGER_MS if the client does not complete the closing handshake.
   */
  private refuseSession(req: IncomingMessage, socket: Duplex, head: Buffer, refusal: Refusal): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.refusing.add(ws);
      const linger = setTimeout(() => ws.terminate(), REFUSAL_LINGER_MS);
      ws.once('close', () => {
        clearTimeout(linger);
        this.refusing.delete(ws);
      });
      ws.on('error', () => ws.terminate());
      ws.close(refusal.closeCode, closeReason(refusal.code, refusal.message));
    });
  }

  /** Resolves once every session open now has closed. */
  async whenIdle(): Promise<void> {
    while (this.sessions.size > 0) await Promise.all([...this.sessions].map((s) => s.closed.then(() => undefined)));
  }

  /** Whether `drain` has begun: /readyz answers 503 and upgrades are refused with 1001 ERR_SHUTTING_DOWN. */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Graceful shutdown (SIGTERM): from now on /readyz answers 503 and every upgrade is refused with close 1001
   * `ERR_SHUTTING_DOWN`; each open session keeps its streams and is closed with 1001 once the last one ends, or
   * when `timeoutMs` (config `drainTimeoutMs`) has passed. Then the bridge closes. Calling it again waits for the
   * same drain.
   */
  drain(timeoutMs = this.config.drainTimeoutMs): Promise<void> {
    this.drained ??= this.runDrain(timeoutMs);
    return this.drained;
  }
  private drained: Promise<void> | undefined;

  private async runDrain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const { sessions, streams } = this.stats();
    this.log(`draining: ${sessions} sessions, ${streams} streams; deadline ${timeoutMs} ms`);
    for (const s of this.sessions) s.drain(DRAIN_MESSAGE);
    const deadline = setTimeout(() => {
      const left = this.stats();
      this.log(`drain deadline passed: closing ${left.sessions} sessions with ${left.streams} streams`);
      for (const s of this.sessions) s.closeWith(WsocksErrorCode.SHUTTING_DOWN, `${DRAIN_MESSAGE} (drain deadline)`);
    }, timeoutMs);
    await this.whenIdle();
    clearTimeout(deadline);
    await this.close();
    this.log('drained: every session closed');
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    for (const ws of this.refusing) ws.terminate();
    await Promise.all([...this.sessions].map((s) => s.closed));
    // The front counts every connection it handed to http: both close together (http ends its idle ones; a drain
    // ends keep-alive connections that are mid-request too).
    const closed = Promise.all([this.front.close(), new Promise<void>((resolve) => this.http.close(() => resolve()))]);
    this.http.closeAllConnections();
    await this.metricsHttp?.close();
    await closed;
    this.wss.close();
    await this.gssapi.close();
  }

  /** Plain HTTP: /healthz and /readyz for load balancers, then the embedder's handler or 426. */
  private request(req: IncomingMessage, res: ServerResponse, onRequest: BridgeStartOptions['onRequest']): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/healthz') return plain(res, 200, 'ok\n');
    if (path === '/readyz') return this.draining ? plain(res, 503, 'draining\n') : plain(res, 200, 'ready\n');
    if (path === '/metrics' && !this.config.metrics?.listen) return void writeMetrics(this.metrics.registry, res);
    if (onRequest) return onRequest(req, res);
    plain(res, 426, `wsocks bridge: connect with a WebSocket, subprotocol ${PROTOCOL_VERSION}\n`);
  }

  /** The endpoint a request's path selects. */
  private endpointOf(req: IncomingMessage): Endpoint {
    const websockify = this.config.compat.websockify;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (websockify && path === websockify.path) {
      return { kind: 'websockify', found: websockifyTarget(websockify, req) };
    }
    for (const endpoint of this.config.compat.wisp) {
      if (path === endpoint.path) return { kind: 'wisp', endpoint, token: undefined };
      // `/wisp/TOKEN/`: the token as one more path segment (Wisp clients cannot send headers).
      const rest = path.startsWith(endpoint.path) ? path.slice(endpoint.path.length) : '';
      if (/^[^/]+\/$/.test(rest)) return { kind: 'wisp', endpoint, token: rest.slice(0, -1) };
      // wsproxy (if enabled): `/wisp/HOST:PORT` or `/wisp/TOKEN/HOST:PORT`, no trailing slash.
      const legacy = endpoint.wsproxy ? /^(?:([^/]+)\/)?([^/]+)$/.exec(rest) : null;
      if (legacy) return { kind: 'wsproxy', endpoint, token: legacy[1], target: parseWsproxyTarget(legacy[2]!) };
    }
    return { kind: 'wsocks' };
  }

  private check(req: IncomingMessage, client: string, token: TokenCheck): Refusal | undefined {
    const { config } = this;
    if (this.draining) return refuse(WsocksErrorCode.SHUTTING_DOWN, 503, DRAIN_MESSAGE);
    if (!originAccepted(config.origins, req, this.address)) {
      return refuse(WsocksErrorCode.ORIGIN_DENIED, 403, `Origin ${req.headers.origin ?? '(none)'} is not allowed`);
    }
    if (!token.ok) return refuse(WsocksErrorCode.UNAUTHORIZED, 401, token.message);
    const endpoint = this.endpointOf(req);
    if (endpoint.kind === 'wsproxy') {
      if (!endpoint.target.ok) return refuse(WsocksErrorCode.BAD_MESSAGE, 400, endpoint.target.message);
      if (!websockifyProtocolOk(req)) return refuse(WsocksErrorCode.BAD_MESSAGE, 400, 'subprotocol binary or base64 (or none) is required');
    } else if (endpoint.kind === 'websockify') {
      if (!websockifyProtocolOk(req)) return refuse(WsocksErrorCode.BAD_MESSAGE, 400, 'subprotocol binary or base64 (or none) is required');
    } else if (this.endpointOf(req).kind === 'wisp') {
      // Wisp v1 asks for no subprotocol.
    } else if (!offersProtocol(req)) {
      return refuse(WsocksErrorCode.BAD_MESSAGE, 400, `subprotocol ${PROTOCOL_VERSION} is required`);
    }
    if ((this.perClient.get(client) ?? 0) >= config.limits.sessionsPerClient) {
      return refuse(WsocksErrorCode.TOO_MANY_SESSIONS, 429, `at most ${config.limits.sessionsPerClient} sessions per client address`);
    }
    if (this.sessions.size + this.refusing.size >= config.limits.maxSessions) {
      return refuse(WsocksErrorCode.BRIDGE_FULL, 503, `the bridge is at its limit of ${config.limits.maxSessions} sessions`);
    }
    return undefined;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A reset at any point (refused, during the handshake, accepted) must reach no one but this socket.
    socket.on('error', () => socket.destroy());
    const found = this.clientOf(req);
    if (!found.ok) {
      const peer = unmapIPv4(req.socket.remoteAddress ?? '');
      return this.admit(req, socket, head, peer, { ok: true, grant: undefined }, refuse(WsocksErrorCode.BAD_MESSAGE, 400, found.message));
    }
    const client = found.address;
    const endpoint = this.endpointOf(req);
    if (endpoint.kind === 'websockify') {
      // The websockify token is the credential: it names a configured target (docs/compat.md).
      const { found } = endpoint;
      return this.admit(req, socket, head, client, found.ok ? { ok: true, grant: undefined } : found);
    }
    // A Wisp v2 client without a token on its path authenticates in the handshake (password extension).
    if (this.wispPasswordAuth(req)) return this.admit(req, socket, head, client, { ok: true, grant: undefined });
    // Verifying a signed token is asynchronous; the checks and the session count then run in one turn.
    const pathToken = endpoint.kind === 'wisp' || endpoint.kind === 'wsproxy' ? endpoint.token : undefined;
    this.tokens.check(pathToken ?? presentedToken(req)).then(
      (token) => this.admit(req, socket, head, client, token),
      (err: unknown) => {
        this.log(`upgrade from ${client}: internal error: ${(err as Error).stack ?? String(err)}`);
        socket.destroy();
      },
    );
  }

  /**
   * Whether this is a Wisp v2 upgrade (a subprotocol offered) that presents no token while the bridge asks for one:
   * it is let in, and the session asks for the token as the password of the v2 password extension.
   */
  private wispPasswordAuth(req: IncomingMessage): boolean {
    const endpoint = this.endpointOf(req);
    return (
      endpoint.kind === 'wisp' &&
      endpoint.token === undefined &&
      presentedToken(req) === undefined &&
      this.tokens.required &&
      (req.headers['sec-websocket-protocol'] ?? '').trim() !== ''
    );
  }

  /** The client's address: the peer's, or the one a trusted proxy gave (PROXY header, Forwarded, X-Forwarded-For). */
  private clientOf(req: IncomingMessage) {
    const header = this.front.headerOf(req.socket);
    const peer = header?.source?.address ?? unmapIPv4(req.socket.remoteAddress ?? '');
    return clientAddress(req, peer, this.config.trustedProxies, header !== undefined);
  }

  private admit(req: IncomingMessage, socket: Duplex, head: Buffer, client: string, token: TokenCheck, early?: Refusal): void {
    const refusal = early ?? this.check(req, client, token);
    if (refusal) {
      this.log(`refused ${client}: ${refusal.code} ${refusal.message}`);
      this.emit({ event: 'upgrade_refused', client, code: refusal.code, message: refusal.message });
      if (offersProtocol(req) && this.refusing.size < this.config.limits.maxSessions) return this.refuseSession(req, socket, head, refusal);
      const body = JSON.stringify({ code: refusal.code, message: refusal.message });
      socket.end(
        `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Refused'}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        () => socket.destroy(),
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
      const grant: SessionGrant | undefined = token.ok ? token.grant : undefined;
      const endpoint = this.endpointOf(req);
      const session: HostedSession =
        endpoint.kind === 'websockify' && endpoint.found.ok
          ? new WebsockifySession(ws, this.sessionContext, client, endpoint.found.target)
          : endpoint.kind === 'wsproxy' && endpoint.target.ok
          ? new WebsockifySession(
              ws,
              this.sessionContext,
              client,
              { host: endpoint.target.host, port: endpoint.target.port, route: endpoint.endpoint.route },
              { protocol: 'wsproxy', grant },
            )
          : endpoint.kind === 'wisp'
          ? new WispSession(ws, this.sessionContext, client, {
              route: endpoint.endpoint.route,
              motd: endpoint.endpoint.motd,
              udp: endpoint.endpoint.udp,
              v2: ws.protocol !== '',
              passwordAuth: this.wispPasswordAuth(req) ? (password) => this.tokens.check(password) : undefined,
              grant,
            })
          : new BridgeSession(ws, this.sessionContext, client, grant, socket);
      this.sessions.add(session);
      if (this.draining) session.drain(DRAIN_MESSAGE);
      void session.closed.then(() => {
        this.sessions.delete(session);
        const n = (this.perClient.get(client) ?? 1) - 1;
        if (n === 0) this.perClient.delete(client);
        else this.perClient.set(client, n);
      });
    });
  }
}
