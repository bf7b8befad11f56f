/** The `wsocks` command line. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ListenSchema } from '../shared/config/net-schemas.ts';
import { ConfigError } from './config-error.ts';
import { loadRulesFile, RulesFileError } from './socks/rules.ts';
import { SocksServer } from './socks/server.ts';
import { BridgeServer } from './bridge/bridge-server.ts';
import { readBridgeConfigFile } from './bridge/config.ts';
import type { SocksLogEntry } from './socks/connection.ts';
import type { BridgeEvent } from './bridge/events.ts';
import { createLogger, LOG_LEVELS } from './log.ts';
import { readFile } from 'node:fs/promises';
import { SocksMetrics } from './socks/metrics.ts';
import { serveMetrics, type MetricsListener } from './net/metrics-http.ts';
import type { LevelWithSilent, Logger } from 'pino';

/** The usage of each subcommand: `wsocks <command> --help` prints its own, `wsocks --help` all of them. */
const COMMAND_USAGE = {
  socks: `  wsocks socks [--listen HOST:PORT] [--user NAME:PASSWORD]... [--user-file FILE] [--rules FILE] [--identd]
               [--gssapi-keytab FILE [--gssapi-service NAME] [--gssapi-protection LEVELS]]
               [--metrics HOST:PORT] [--drain-timeout SECONDS] [--log-level LEVEL] [--quiet]
      Runs the SOCKS4/4a/5 server (default 127.0.0.1:1080).
      --user           turns on RFC 1929 username/password (repeatable); SOCKS4 is then refused
      --user-file      NAME:PASSWORD lines (# comments), kept out of argv; WSOCKS_USER works the same way
      --rules          access rules file (first match wins, default deny); see docs/socks-server.md
      --identd         checks each SOCKS4 USERID with the client's identd (RFC 1413, port 113, 2 s timeout)
      --gssapi-keytab  turns on GSS-API (RFC 1961, Kerberos) with the service's keys from this keytab; SOCKS4 is
                       then refused, and the client's principal (alice@REALM) is the user rules see
      --gssapi-service the service clients ask for: rcmd (default, any host in the keytab), rcmd/host, rcmd@host
      --gssapi-protection  levels granted, comma separated: clear (default), integrity, confidentiality
      --metrics        serves Prometheus metrics on http://HOST:PORT/metrics
      --drain-timeout  on SIGTERM/SIGINT, how long open relays may finish (default 30)
      --log-level      fatal, error, warn, info (default), debug, trace or silent; also WSOCKS_LOG_LEVEL
`,
  bridge: `  wsocks bridge [--config FILE] [--listen HOST:PORT] [--log-level LEVEL]
      Runs the WebSocket bridge (default 127.0.0.1:8080); see docs/bridge.md for the config file and
      docs/deploy.md for TLS, metrics, logs, reload (SIGHUP) and drain (SIGTERM).
`,
  demo: `  wsocks demo [--listen HOST:PORT] [--static]
      Runs the whole demo on loopback (default 127.0.0.1:5173): two SOCKS servers, demo targets, the bridge
      and the web UI (vite, or with --static the bundle from npm run build:demo). Prints one URL.
`,
} as const;

const USAGE = `usage:
  wsocks --version
${COMMAND_USAGE.socks}${COMMAND_USAGE.bridge}${COMMAND_USAGE.demo}
Exit codes: 0 done, 1 a runtime failure (e.g. a port is taken), 2 a usage or config error.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (Object.hasOwn(COMMAND_USAGE, command) && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`usage:\n${COMMAND_USAGE[command as keyof typeof COMMAND_USAGE]}`);
    return 0;
  }
  try {
    if (command === 'socks') return await runSocks(rest);
    if (command === 'bridge') return await runBridge(rest);
    if (command === 'demo') return await runDemo(rest);
    throw new ConfigError(`unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RulesFileError) {
      process.stderr.write(`wsocks: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`wsocks: ${describeError(err)}\n`);
    return 1;
  }
}

async function runSocks(args: string[]): Promise<number> {
  const signals = shutdownSignals();
  const values = options(args, {
        listen: { type: 'string', default: '127.0.0.1:1080' },
        user: { type: 'string', multiple: true, default: [] },
        'user-file': { type: 'string' },
        rules: { type: 'string' },
        identd: { type: 'boolean', default: false },
        'gssapi-keytab': { type: 'string' },
        'gssapi-service': { type: 'string' },
        'gssapi-protection': { type: 'string' },
        metrics: { type: 'string' },
        'drain-timeout': { type: 'string', default: '30' },
        'log-level': { type: 'string' },
        quiet: { type: 'boolean', default: false },
      });
  const listen = parseListen('--listen', values.listen);
  const metricsAt = values.metrics === undefined ? undefined : parseListen('--metrics', values.metrics);
  const drainSeconds = Number(values['drain-timeout']);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) throw new ConfigError(`--drain-timeout expects seconds, got ${JSON.stringify(values['drain-timeout'])}`);
  const users = await socksUsers(values.user, values['user-file']);
  const rules = values.rules === undefined ? undefined : await loadRulesFile(values.rules);
  const logger = createLogger({ level: values.quiet ? 'silent' : logLevel(values['log-level']) });
  let metrics: SocksMetrics | undefined;
  const log = (e: SocksLogEntry) => {
    metrics?.record(e);
    if (e.event === 'request') logger.info(e, e.event);
    else logger.warn(e, e.event);
  };
  const gssapi = gssapiOptions(values['gssapi-keytab'], values['gssapi-service'], values['gssapi-protection']);
  // Quiet and without metrics: no log entry is built per connection.
  const logged = metricsAt !== undefined || logger.isLevelEnabled('warn');
  const server = await SocksServer.start({ ...listen, users, ...(rules ? { rules } : {}), ...(values.identd ? { identd: {} } : {}), ...(gssapi ? { gssapi } : {}) }, logged ? log : undefined);
  let metricsListener: MetricsListener | undefined;
  if (metricsAt) {
    metrics = new SocksMetrics(() => server.stats());
    try {
      metricsListener = await serveMetrics(metrics.registry, metricsAt.host, metricsAt.port);
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  const { host, port } = server.address;
  process.stdout.write(
    `wsocks SOCKS server listening on ${host.includes(':') ? `[${host}]` : host}:${port}` +
      ` (SOCKS4/4a${users.length || gssapi ? ' refused' : values.identd ? ' checked by identd' : ''}, SOCKS5 ${[gssapi ? 'GSS-API' : '', users.length ? 'username/password' : ''].filter(Boolean).join(' or ') || 'no auth'}` +
      `${rules ? `, ${rules.length} rules` : ''})` +
      `${metricsListener ? `; metrics on http://${hostPort(metricsListener.address)}/metrics` : ''}\n`,
  );
  logger.info(`${await signals.first}: draining, up to ${drainSeconds} s (a second signal stops at once)`);
  void signals.second.then((sig) => {
    logger.info(`${sig}: closing every connection now`);
    return server.close();
  });
  await server.drain(drainSeconds * 1000);
  await metricsListener?.close();
  logger.info('stopped');
  return 0;
}

async function runBridge(args: string[]): Promise<number> {
  const signals = shutdownSignals();
  const values = options(args, { config: { type: 'string' }, listen: { type: 'string' }, 'log-level': { type: 'string' } });
  const logger = createLogger({ level: logLevel(values['log-level']) });
  const raw = values.config === undefined ? {} : await readBridgeConfigFile(values.config);
  if (values.listen !== undefined) raw.listen = values.listen;
  const log = (line: string) => logger.info(line);
  const bridge = await BridgeServer.start(raw, { log, onEvent: (e) => logEvent(logger, e), source: values.config ?? '--listen' });
  const metricsAt = bridge.metricsAddress;
  process.stdout.write(`wsocks bridge listening on ${bridge.url}${metricsAt ? `; metrics on http://${hostPort(metricsAt)}/metrics` : ""}\n`);
  const onHup = () => void reloadBridge(bridge, values.config, values.listen, logger);
  process.on('SIGHUP', onHup);
  log(`${await signals.first}: draining (a second signal stops at once)`);
  process.off('SIGHUP', onHup);
  void signals.second.then((sig) => {
    log(`${sig}: closing every session now`);
    return bridge.close();
  });
  await bridge.drain();
  log('stopped');
  return 0;
}

function parseListen(flag: string, value: string): { host: string; port: number } {
  const listen = ListenSchema.safeParse(value);
  if (!listen.success) throw new ConfigError(`${flag}: ${listen.error.issues[0]?.message}`);
  return listen.data;
}

function hostPort({ host, port }: { host: string; port: number }): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * SOCKS5 users from `--user NAME:PASSWORD` (visible in `ps`), `--user-file FILE` (one NAME:PASSWORD a line, `#`
 * comments) and WSOCKS_USER (NAME:PASSWORD, several separated by newlines).
 */
async function socksUsers(flags: string[], file: string | undefined): Promise<Array<{ username: string; password: string }>> {
  const entries = flags.map((u) => ({ text: u, from: '--user' }));
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`--user-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() !== '' && !line.trimStart().startsWith('#')) entries.push({ text: line, from: `${file}:${i + 1}` });
    });
  }
  for (const line of (process.env.WSOCKS_USER ?? '').split('\n')) if (line !== '') entries.push({ text: line, from: 'WSOCKS_USER' });
  return entries.map(({ text, from }) => {
    const colon = text.indexOf(':');
    // The entry itself is never echoed: without its colon, or with an empty NAME, it may well be the password alone.
    if (colon < 1) throw new ConfigError(`${from}${from === '--user' ? '' : ':'} expects NAME:PASSWORD (${colon === -1 ? 'no ":"' : 'empty NAME'}; the value is not shown)`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  });
}

/** SIGHUP: re-reads the config file; a bad one is refused (logged with the reason) and the old config stays. */
async function reloadBridge(bridge: BridgeServer, file: string | undefined, listen: string | undefined, logger: Logger): Promise<void> {
  if (file === undefined) return void logger.warn('SIGHUP: no --config file to reload');
  try {
    const raw = await readBridgeConfigFile(file);
    if (listen !== undefined) raw.listen = listen;
    await bridge.reload(raw, file);
    logger.info(`SIGHUP: reloaded ${file}`);
  } catch (err) {
    logger.error(`SIGHUP: reload refused, the old config stays: ${(err as Error).message}`);
  }
}

async function runDemo(args: string[]): Promise<number> {
  const stop = untilSignal();
  const values = options(args, { listen: { type: 'string', default: '127.0.0.1:5173' }, static: { type: 'boolean', default: false } });
  const listen = ListenSchema.safeParse(values.listen);
  if (!listen.success) throw new ConfigError(`--listen: ${listen.error.issues[0]?.message}`);
  const { startDemo } = await import('./demo/demo.ts');
  const demo = await startDemo({ ...listen.data, static: values.static });
  const [a, b] = demo.socks;
  process.stdout.write(
    `wsocks demo on loopback:\n` +
      `  SOCKS server A  127.0.0.1:${a.address.port} (no auth)\n` +
      `  SOCKS server B  127.0.0.1:${b.address.port} (user demo, password demo-password)\n` +
      ('server' in demo.kerberos
        ? `  SOCKS server K  127.0.0.1:${demo.kerberos.server.address.port} (GSS-API, Kerberos test realm WSOCKS.TEST; route kerberos)\n`
        : `  no GSS-API hop  (${demo.kerberos.unavailable})\n`) +
      `  targets         echo ${demo.targets.echo}, chat ${demo.targets.chat}, http ${demo.targets.http}, firehose ${demo.targets.firehose}\n` +
      `  bridge          ${demo.bridge.url}\n\n` +
      `Open ${demo.url}\n`,
  );
  await stop;
  await demo.close();
  return 0;
}

/** An error in words, its code named once (Node's system errors already start their message with it). */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** The server's `gssapi` option from the --gssapi-* flags (none without a keytab). */
function gssapiOptions(keytab: string | undefined, service: string | undefined, protection: string | undefined) {
  if (keytab === undefined) {
    if (service !== undefined || protection !== undefined) throw new ConfigError('--gssapi-service and --gssapi-protection need --gssapi-keytab');
    return undefined;
  }
  const levels = (protection ?? 'clear').split(',').map((l) => l.trim());
  const known = ['clear', 'integrity', 'confidentiality'] as const;
  const bad = levels.find((l) => !(known as readonly string[]).includes(l));
  if (bad !== undefined) throw new ConfigError(`--gssapi-protection: ${JSON.stringify(bad)} is not clear, integrity or confidentiality`);
  return { keytab, service: service ?? 'rcmd', protection: levels as Array<(typeof known)[number]> };
}

/** parseArgs, strict, with its complaints as ConfigErrors (exit code 2 and the usage). */
function options<T extends ParseArgsConfig['options']>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, strict: true }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/**
 * The first and second SIGINT/SIGTERM (the name of each). Installed from the start, so that a signal during startup
 * is not lost, and kept, so that a second signal during a drain does not kill the process by default.
 */
function shutdownSignals(): { first: Promise<NodeJS.Signals>; second: Promise<NodeJS.Signals> } {
  const seen: Array<(sig: NodeJS.Signals) => void> = [];
  const first = new Promise<NodeJS.Signals>((resolve) => seen.push(resolve));
  const second = new Promise<NodeJS.Signals>((resolve) => seen.push(resolve));
  let n = 0;
  const on = (sig: NodeJS.Signals) => seen[Math.min(n++, 1)]!(sig);
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { first, second };
}

/** Resolves on SIGINT or SIGTERM; listening from the start, so that a signal during startup is not lost. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** `--log-level`, else WSOCKS_LOG_LEVEL, else info. */
function logLevel(flag: string | undefined): LevelWithSilent {
  const level = flag ?? process.env.WSOCKS_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  return level as LevelWithSilent;
}

/** One record per session start/end and stream end (info); session-level errors (warn); opens and stream errors (debug). */
function logEvent(logger: Logger, e: BridgeEvent): void {
  if (e.event === 'session_start' || e.event === 'session_end' || e.event === 'stream_end') logger.info(e, e.event);
  else if (e.event === 'error' && e.stream === undefined) logger.warn(e, e.event);
  else logger.debug(e, e.event);
}


if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

/** The version in wsocks's package.json: next to the sources in a checkout, two levels up from dist/server/ installed. */
function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'wsocks') return pkg.version ?? 'unknown';
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
