/**
 * HAProxy and nginx on loopback, run from temporary configs derived from the ones in deploy/ (ports substituted),
 * in the foreground, never as system services.
 */
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../server/net/listen.ts';
import { startInDir, type Peer } from './peers.ts';

/** deploy/NAME with each `from` replaced by `to`; a replacement that matches nothing fails (the file changed). */
export function deployConfig(name: string, replacements: Array<[from: string | RegExp, to: string]>): string {
  let text = readFileSync(new URL(`../../deploy/${name}`, import.meta.url), 'utf8');
  for (const [from, to] of replacements) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`deploy/${name}: ${String(from)} not found`);
    text = next;
  }
  return text;
}

async function run(cmd: string, args: (dir: string) => string[], files: (dir: string) => void, port: number, what: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), `wsocks-${what}-`));
  files(dir);
  return startInDir(dir, cmd, args(dir), port, what);
}

/**
 * HAProxy with deploy/haproxy.cfg, listening on a free loopback port, its backend servers replaced by `servers`;
 * `tlsBridges`: the bridges serve wss:// themselves (TLS passes through HAProxy after the PROXY header).
 */
export async function startHaproxy(servers: Array<{ port: number }>, options: { tlsBridges?: boolean } = {}): Promise<Peer> {
  const port = await freePort();
  const config = deployConfig('haproxy.cfg', [
    ['bind :8443', `bind 127.0.0.1:${port}`],
    [/^ {4}server bridge1 127\.0\.0\.1:8080$/m, servers.map((s, i) => `    server bridge${i + 1} 127.0.0.1:${s.port}`).join('\n')],
    // Bridges with their own `tls`, as the config's comment says: the health check speaks TLS too.
    ...(options.tlsBridges ? [['default-server send-proxy-v2 check ', 'default-server send-proxy-v2 check check-ssl verify none '] as [string, string]] : []),
  ]);
  return run('haproxy', (dir) => ['-db', '-f', join(dir, 'haproxy.cfg')], (dir) => writeFileSync(join(dir, 'haproxy.cfg'), config), port, 'haproxy');
}

/** nginx with deploy/nginx-wsocks.conf inside a minimal main config (one process, files in a temp dir). */
export async function startNginx(bridgePort: number): Promise<Peer> {
  const port = await freePort();
  const site = deployConfig('nginx-wsocks.conf', [
    ['listen 80;', `listen 127.0.0.1:${port};`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${bridgePort};`],
  ]);
  return run(
    'nginx',
    (dir) => ['-p', dir, '-c', join(dir, 'nginx.conf')],
    (dir) => {
      mkdirSync(join(dir, 'logs'));
      writeFileSync(join(dir, 'wsocks.conf'), site);
      writeFileSync(
        join(dir, 'nginx.conf'),
        [
          'daemon off;',
          'master_process off;',
          `pid ${join(dir, 'nginx.pid')};`,
          'error_log stderr warn;',
          'events { worker_connections 256; }',
          'http {',
          '  access_log off;',
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
          `  include ${join(dir, 'wsocks.conf')};`,
          '}',
        ].join('\n'),
      );
    },
    port,
    'nginx',
  );
}
