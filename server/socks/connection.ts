/**
 * One client of the SOCKS server: runs the handshake machine over the socket, applies credentials and rules,
 * then carries out CONNECT, BIND or UDP ASSOCIATE. Everything it opens (target socket, BIND listener, UDP
 * sockets, timers) is closed when the client's socket closes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { isIP } from 'node:net';
import { ServerHandshake } from '../../shared/socks/server-handshake.ts';
import { canonicalTarget, hostForLog, type CanonicalTarget } from '../../shared/net/canonical-target.ts';
import { AuthMethod, Command, Socks5ReplyCode } from '../../shared/socks/constants.ts';
import type { Socks4Request } from '../../shared/socks/socks4.ts';
import type { Socks5Request } from '../../shared/socks/socks5.ts';
import { connectTcp, formatHostPort, TCP_TUNING, unmapIPv4 } from '../net/dial.ts';
import type { Resolve } from '../net/resolver.ts';
import { DirectReads, relay, RELAY_SOCKET_OPTIONS } from '../net/relay.ts';
import { deadline, type Deadline } from '../net/deadline.ts';
import { TargetError, TargetErrorCode, targetErrorFrom } from '../net/target-error.ts';
import type { Credentials } from './credentials.ts';
import type { SocksServerOptions } from './options.ts';
import { failureReply, successReply } from './reply.ts';
import { evaluateAssociation, evaluateBeforeResolving, evaluateRules, type RuleCommand } from './rules.ts';
import { UdpAssociation } from './udp-association.ts';
import { checkIdent, identFailureCode } from './identd.ts';
import { IdentError } from '../../shared/ident/errors.ts';
import { encodeSocks4Reply } from '../../shared/socks/socks4.ts';
import { GssProtection, GssServerHandshake, type GssStep } from '../../shared/socks/gssapi.ts';
import type { RestartingHelper } from '../gssapi/gss-helper.ts';
import { GssProtectedStream } from '../gssapi/protected-stream.ts';
import { driveGss } from '../gssapi/drive.ts';

/** The canonical form of a requested host; a host that is not one is a BAD_TARGET TargetError (REP 0x02). */
export function canonicalSocksTarget(host: string): CanonicalTarget {
  const c = canonicalTarget(host);
  if (!c.ok) throw new TargetError(TargetErrorCode.BAD_TARGET, c.message);
  return c.target;
}

/** A line for the server's log. Never carries credentials. */
export interface SocksLogEntry {
  event: 'request' | 'denied' | 'failed' | 'protocol-error' | 'udp-drop';
  client: string;
  version?: 4 | 5 | undefined;
  command?: RuleCommand | undefined;
  target?: string | undefined;
  user?: string | undefined;
  code?: string | undefined;
  reason?: string | undefined;
}

export interface ConnectionContext {
  options: SocksServerOptions;
  credentials: Credentials;
  /** Where log entries go; none are built without it. */
  log: ((entry: SocksLogEntry) => void) | undefined;
  /** Counts of live resources, for stats and leak checks. */
  resources: { bindListeners: number; udpAssociations: number };
  /** The server's resolver, with options.maxPendingLookups lookups in flight at most. */
  resolve: Resolve;
  /** The GSS-API acceptor, when the server was started with `gssapi`. */
  gssapi?: RestartingHelper | undefined;
}

const LEVELS = { clear: GssProtection.CLEAR, integrity: GssProtection.INTEGRITY, confidentiality: GssProtection.CONFIDENTIALITY } as const;

/** The level the server answers: the client's proposal if offered, else the strongest level offered. */
export function chooseProtection(offered: ReadonlyArray<keyof typeof LEVELS>, proposed: number): number {
  const levels = offered.map((l) => LEVELS[l]);
  return levels.includes(proposed as 0 | 1 | 2) ? proposed : Math.max(...levels);
}

type Request = Socks4Request | Socks5Request;

/** The reason `gone` aborts with: one object, not a DOMException (with its stack trace) built per connection. */
const CLIENT_GONE = new Error('the client closed its connection');

const COMMAND_NAMES: Record<number, RuleCommand> = {
  [Command.CONNECT]: 'connect',
  [Command.BIND]: 'bind',
  [Command.UDP_ASSOCIATE]: 'udp',
};

export class SocksConnection {
  private readonly handshake: ServerHandshake;
  private clientAddress: string | undefined;
  /**
   * What the SOCKS5 request, replies and relay use: the socket, or after a GSS-API subnegotiation that chose
   * integrity or confidentiality, the protected stream over it (RFC 1961 §5).
   */
  private channel: Socket;
  private user: string | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** The client's socket has closed. */
  private closed = false;
  /** Aborted when the client goes away (identd checks, UDP associations); made on first use. */
  private goneController: AbortController | undefined;
  /** The latest wait (connect, BIND): aborted when the client goes away, unless it is over. */
  private waiting: Deadline | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.channel = socket;
    const methods: number[] = [];
    if (ctx.gssapi) methods.push(AuthMethod.GSSAPI);
    if (ctx.credentials.required) methods.push(AuthMethod.USERNAME_PASSWORD);
    if (methods.length === 0) methods.push(AuthMethod.NO_AUTH);
    this.handshake = new ServerHandshake({ methods, socks4: ctx.options.socks4 });
  }

  /** The client's address, as rules and logs see it (read from the socket when first needed). */
  private get client(): string {
    return (this.clientAddress ??= unmapIPv4(this.socket.remoteAddress ?? ''));
  }

  /** Aborted when the client goes away. */
  private get gone(): AbortSignal {
    if (!this.goneController) {
      this.goneController = new AbortController();
      if (this.closed) this.goneController.abort(CLIENT_GONE);
    }
    return this.goneController.signal;
  }

  /** A deadline for one wait of this connection (connect, BIND), aborted too when the client goes away. */
  private wait(ms: number): Deadline {
    const d = deadline(ms);
    this.waiting = d;
    if (this.closed) d.abort();
    return d;
  }

  start(): void {
    const { socket } = this;
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      clearTimeout(this.handshakeTimer);
      this.closed = true;
      this.goneController?.abort(CLIENT_GONE);
      this.waiting?.abort();
    });
    this.handshakeTimer = setTimeout(() => {
      this.log({ event: 'protocol-error', code: 'ERR_SOCKS_HANDSHAKE_TIMEOUT', reason: 'handshake timed out' });
      socket.destroy();
    }, this.ctx.options.handshakeTimeoutMs);
    socket.on('data', this.onData);
    socket.once('end', this.onEarlyEnd);
  }

  /** The client half-closed before finishing its request: nothing can follow, so close instead of waiting. */
  private readonly onEarlyEnd = (): void => {
    this.log({ event: 'protocol-error', version: this.handshake.version, code: 'ERR_SOCKS_BAD_STATE', reason: 'client closed before its request was complete' });
    this.finish();
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.handshakeData(chunk);
    } catch (err) {
      // Nothing a client sends may throw past this handler: that client is closed, the server carries on.
      this.log({ event: 'protocol-error', version: this.handshake.version, code: (err as { code?: string }).code ?? 'ERR_SOCKS_BAD_STATE', reason: (err as Error).message });
      this.finish();
    }
  };

  private handshakeData(chunk: Buffer): void {
    const hs = this.handshake;
    hs.receive(chunk);
    for (;;) {
      const ev = hs.next();
      switch (ev.type) {
        case 'need':
          return;
        case 'greeting':
          if (ev.method === AuthMethod.NO_ACCEPTABLE) {
            this.log({ event: 'protocol-error', version: 5, code: 'ERR_SOCKS_NO_ACCEPTABLE_METHOD', reason: `offered ${ev.greeting.methods.join(',')}` });
            return this.finish(ev.reply);
          }
          this.socket.write(ev.reply);
          if (ev.method === AuthMethod.GSSAPI) {
            // The RFC 1961 subnegotiation takes the connection until it is over.
            this.socket.off('data', this.onData);
            this.runGssapi(hs.takeRest());
            return;
          }
          break;
        case 'auth': {
          const user = this.ctx.credentials.check(ev.request.username, ev.request.password);
          const reply = hs.authResult(user !== undefined);
          if (user === undefined) {
            this.log({ event: 'denied', version: 5, code: 'ERR_SOCKS_AUTH_FAILED', reason: 'wrong username or password' });
            return this.finish(reply);
          }
          this.user = user;
          this.socket.write(reply);
          break;
        }
        case 'error':
          this.log({ event: 'protocol-error', version: hs.version, code: ev.error.code, reason: ev.error.message });
          return this.finish(ev.reply);
        case 'request':
          clearTimeout(this.handshakeTimer);
          this.socket.off('data', this.onData);
          this.socket.off('end', this.onEarlyEnd);
          this.channel.off('data', this.onData);
          this.channel.pause();
          this.serve(ev.request, hs.takeRest()).catch((err: unknown) => {
            this.log({ event: 'failed', version: hs.version, code: 'ERR_SOCKS_INTERNAL', reason: (err as Error).message });
            this.finish();
          });
          return;
      }
    }
  }

  private async serve(request: Request, rest: Uint8Array): Promise<void> {
    const version = request.version;
    if (version === 4) this.user = Buffer.from(request.userId).toString('utf8') || undefined;
    const command = COMMAND_NAMES[request.command];
    // The target as logs and errors name it: built only for them (it parses the host once more).
    const target = (): string => formatHostPort(hostForLog(request.host), request.port);
    if (version === 4 && (this.ctx.credentials.required || this.ctx.gssapi)) {
      this.log({ event: 'denied', version, target: target(), code: 'ERR_SOCKS_AUTH_REQUIRED', reason: 'SOCKS4 cannot authenticate' });
      return this.finish(failureReply(4, Socks5ReplyCode.NOT_ALLOWED));
    }
    if (command === 'udp' && this.channel !== this.socket) {
      this.log({ event: 'failed', version, target: target(), code: 'ERR_GSSAPI_PROTECTION', reason: 'UDP with GSS-API integrity or confidentiality (datagram encapsulation) is not implemented' });
      return this.finish(failureReply(version, Socks5ReplyCode.COMMAND_NOT_SUPPORTED));
    }
    if (command === undefined || (version === 4 && command === 'udp')) {
      this.log({ event: 'failed', version, target: target(), code: 'ERR_SOCKS_BAD_COMMAND', reason: `command 0x${request.command.toString(16)}` });
      return this.finish(failureReply(version, Socks5ReplyCode.COMMAND_NOT_SUPPORTED));
    }
    if (version === 4 && this.ctx.options.identd && !(await this.identConfirmed(request.userId, command, target()))) return;
    try {
      if (command === 'connect') await this.connect(request, rest);
      else if (command === 'bind') await this.bind(request);
      else await this.associate(request as Socks5Request);
    } catch (err) {
      const named = target();
      const e = targetErrorFrom(err, named);
      this.log({
        event: e.code === TargetErrorCode.DENIED ? 'denied' : 'failed',
        version,
        command,
        target: named,
        code: e.code,
        reason: e.message,
      });
      this.finish(failureReply(version, e.replyCode));
    }
  }

  /** The identd check of a SOCKS4 request; on failure it answers 0x5C or 0x5D, closes, and returns false. */
  private async identConfirmed(userId: Uint8Array, command: RuleCommand, target: string): Promise<boolean> {
    const s = this.socket;
    const ends = { clientAddress: s.remoteAddress ?? '', clientPort: s.remotePort ?? 0, serverAddress: s.localAddress ?? '', serverPort: s.localPort ?? 0 };
    try {
      await checkIdent(ends, userId, this.ctx.options.identd!, this.gone);
      return true;
    } catch (err) {
      if (!(err instanceof IdentError)) throw err;
      if (this.closed) return false;
      this.log({ event: 'denied', version: 4, command, target, code: err.code, reason: err.message });
      this.finish(encodeSocks4Reply({ code: identFailureCode(err) }));
      return false;
    }
  }

  /** Resolves the destination and keeps the addresses the rules allow; throws DENIED when none is left. */
  private async allowedAddresses(request: Request, command: RuleCommand, signal: AbortSignal): Promise<string[]> {
    // Rules and logs see the canonical host: "0" is 0.0.0.0, "::1%lo" is refused, full-width letters are ASCII.
    const target = canonicalSocksTarget(request.host);
    const named = target.kind === 'domain';
    const rules = this.ctx.options.rules;
    // An IP literal is its own address: no resolver, and without rules nothing to check.
    if (!rules && !named) return [target.host];
    const query = { client: this.client, user: this.user, command, name: named ? target.host : undefined, port: request.port };
    const denied = () =>
      new TargetError(TargetErrorCode.DENIED, `${command} to ${formatHostPort(target.host, request.port)} denied by rules`);
    if (named && evaluateBeforeResolving(this.ctx.options.rules, query) === 'deny') throw denied();
    const addresses = await this.ctx.resolve(target.host, signal);
    const allowed = addresses.filter((address) => evaluateRules(this.ctx.options.rules, { ...query, address }).allow);
    if (allowed.length === 0) throw denied();
    return allowed;
  }

  private async connect(request: Request, rest: Uint8Array): Promise<void> {
    const { signal, done } = this.wait(this.ctx.options.connectTimeoutMs);
    let target: Socket;
    const reads = new DirectReads();
    try {
      const addresses = await this.allowedAddresses(request, 'connect', signal);
      target = await connectTcp(addresses, request.port, signal, reads.onread, RELAY_SOCKET_OPTIONS);
    } finally {
      done();
    }
    if (this.closed) {
      target.destroy();
      return;
    }
    if (this.ctx.log) this.log({ event: 'request', version: request.version, command: 'connect', target: formatHostPort(hostForLog(request.host), request.port) });
    this.channel.write(successReply(request.version, target.localAddress ?? '0.0.0.0', target.localPort ?? 0));
    if (rest.length > 0) target.write(rest);
    await relay(this.channel, target, { idleTimeoutMs: this.ctx.options.idleTimeoutMs }, reads);
  }

  private async bind(request: Request): Promise<void> {
    const expected = await this.expectedPeer(request);
    const localAddress = unmapIPv4(this.socket.localAddress ?? '127.0.0.1');
    if (request.version === 4 && isIP(localAddress) !== 4) {
      throw new TargetError(TargetErrorCode.FAILED, 'SOCKS4 BIND needs an IPv4 listening address');
    }
    const listener = createServer({ allowHalfOpen: true, pauseOnConnect: true, ...TCP_TUNING, ...RELAY_SOCKET_OPTIONS });
    this.ctx.resources.bindListeners++;
    let peer: Socket;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, localAddress, () => resolve());
      });
      const port = (listener.address() as { port: number }).port;
      this.channel.write(successReply(request.version, localAddress, port));
      peer = await this.acceptOne(listener);
    } finally {
      listener.close();
      this.ctx.resources.bindListeners--;
    }
    const peerIp = unmapIPv4(peer.remoteAddress ?? '');
    if (expected !== undefined && peerIp !== expected) {
      peer.destroy();
      throw new TargetError(TargetErrorCode.DENIED, `BIND: connection from ${peerIp}, expected ${expected}`);
    }
    this.log({ event: 'request', version: request.version, command: 'bind', target: formatHostPort(peerIp, peer.remotePort ?? 0) });
    this.channel.write(successReply(request.version, peerIp, peer.remotePort ?? 0));
    peer.resume();
    await relay(this.channel, peer, { idleTimeoutMs: this.ctx.options.idleTimeoutMs });
  }

  /**
   * The address the incoming BIND connection must come from: the request's DST.ADDR, resolved, or undefined
   * when it is unspecified (0.0.0.0 / ::). Rules are checked against it.
   */
  private async expectedPeer(request: Request): Promise<string | undefined> {
    const { signal, done } = this.wait(this.ctx.options.connectTimeoutMs);
    try {
      const unspecified = ['0.0.0.0', '::'].includes(canonicalSocksTarget(request.host).host);
      if (unspecified) {
        const verdict = evaluateRules(this.ctx.options.rules, { client: this.client, user: this.user, command: 'bind', port: request.port });
        if (!verdict.allow) throw new TargetError(TargetErrorCode.DENIED, 'bind denied by rules');
        return undefined;
      }
      return unmapIPv4((await this.allowedAddresses(request, 'bind', signal))[0]!);
    } finally {
      done();
    }
  }

  private acceptOne(listener: Server): Promise<Socket> {
    const { signal, done } = this.wait(this.ctx.options.bindTimeoutMs);
    return new Promise<Socket>((resolve, reject) => {
      signal.addEventListener('abort', () => {
        reject(new TargetError(TargetErrorCode.TIMEOUT, 'no connection arrived for BIND'));
      });
      listener.once('connection', (peer: Socket) => {
        done();
        resolve(peer);
      });
    }).finally(done);
  }

  private async associate(request: Socks5Request): Promise<void> {
    const verdict = evaluateAssociation(this.ctx.options.rules, { client: this.client, user: this.user, command: 'udp' });
    if (!verdict.allow) throw new TargetError(TargetErrorCode.DENIED, 'UDP ASSOCIATE denied by rules');
    const unspecifiedPort = request.port === 0;
    let idle: NodeJS.Timeout | undefined;
    const association = new UdpAssociation({
      clientIp: this.client,
      clientPort: unspecifiedPort ? undefined : request.port,
      resolve: this.ctx.resolve,
      bindAddress: unmapIPv4(this.socket.localAddress ?? '127.0.0.1'),
      rules: this.ctx.options.rules,
      user: this.user,
      maxDatagramBytes: this.ctx.options.maxDatagramBytes,
      onDrop: (reason) => this.log({ event: 'udp-drop', version: 5, command: 'udp', reason }),
      onActivity: () => idle?.refresh(),
    });
    this.ctx.resources.udpAssociations++;
    const closeAll = () => {
      clearTimeout(idle);
      association.close();
      this.socket.destroy();
    };
    this.gone.addEventListener('abort', closeAll, { once: true });
    this.gone.addEventListener('abort', () => this.ctx.resources.udpAssociations--, { once: true });
    const bound = await association.open();
    if (this.ctx.options.idleTimeoutMs > 0) idle = setTimeout(closeAll, this.ctx.options.idleTimeoutMs);
    this.log({ event: 'request', version: 5, command: 'udp', target: formatHostPort(bound.address, bound.port) });
    this.channel.write(successReply(5, bound.address, bound.port));
    // The control connection only keeps the association alive: anything sent on it is discarded, and its end
    // (FIN or reset) ends the association.
    this.channel.on('data', () => {});
    this.channel.once('end', closeAll);
    this.channel.resume();
  }

  /** Writes a last reply, if any, and closes. */
  private finish(reply?: Uint8Array): void {
    clearTimeout(this.handshakeTimer);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEarlyEnd);
    this.channel.off('data', this.onData);
    if (this.socket.destroyed) return;
    const channel = this.channel;
    if (reply) channel.end(reply, () => (channel.destroy(), this.socket.destroy()));
    else (channel.destroy(), this.socket.destroy());
  }

  /**
   * Runs the RFC 1961 subnegotiation after the greeting selected GSS-API: context tokens through the acceptor,
   * then the protection level. The client's principal becomes the user for rules and logs; then the SOCKS5
   * request is read as usual, from the protected stream if a level other than clear was agreed.
   */
  private runGssapi(early: Uint8Array): void {
    // A helper that died is replaced here; the contexts it held are gone with their connections.
    const context = this.ctx.gssapi!.get().then((helper) => helper.context());
    context.catch(() => undefined);
    this.socket.once('close', () => void context.then((c) => c.dispose(), () => undefined));
    const ops = {
      acceptStep: async (input: Uint8Array) => (await context).step(input),
      wrap: async (data: Uint8Array, confidential: boolean) => (await context).wrap(data, confidential),
      unwrap: async (token: Uint8Array) => (await context).unwrap(token),
    };
    const offered = this.ctx.options.gssapi!.protection;
    const machine = new GssServerHandshake({ ops, choose: (proposed) => chooseProtection(offered, proposed) });
    let over = false;
    const stop = () => {
      over = true;
      drive.stop();
    };
    const apply = (steps: GssStep[]) => {
      for (const step of steps) {
        if (over || this.socket.destroyed) return;
        if (step.type === 'write') this.socket.write(step.bytes);
        else if (step.type === 'error') {
          stop();
          const denied = step.error.code === 'ERR_GSSAPI_FAILED' || step.error.code === 'ERR_GSSAPI_PROTECTION';
          this.log({ event: denied ? 'denied' : 'protocol-error', version: 5, code: step.error.code, reason: step.error.message });
          // The abort (if any) was the write just before: end after it.
          this.finish();
          return;
        } else if (step.type === 'done') {
          stop();
          this.user = step.principal;
          const rest = machine.takeRest();
          this.handshake.externalAuthResult(true);
          if (step.protection !== GssProtection.CLEAR) {
            this.channel = new GssProtectedStream(this.socket, ops, step.protection === GssProtection.CONFIDENTIALITY, rest).asSocket();
            this.channel.on('error', () => this.socket.destroy());
            this.channel.on('data', this.onData);
            this.channel.resume();
          } else {
            this.socket.on('data', this.onData);
            if (rest.length > 0) this.onData(Buffer.from(rest));
          }
        }
      }
    };
    const drive = driveGss(this.socket, machine, {
      early,
      apply,
      fail: (err) => {
        over = true;
        this.log({ event: 'protocol-error', version: 5, code: (err as { code?: string }).code ?? 'ERR_GSSAPI_FAILED', reason: (err as Error).message });
        this.finish();
      },
    });
  }

  private log(entry: Omit<SocksLogEntry, 'client' | 'user'>): void {
    if (this.ctx.log) this.ctx.log({ client: this.client, user: this.user, ...entry });
  }
}
