/**
 * Servers as separate processes for benchmarks: SOCKS servers (ours, microsocks and Dante when installed) and
 * WebSocket-to-TCP peers (websockify from Debian, wisp-js from npm). All listen on 127.0.0.1 only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { freePort } from '../server/net/listen.ts';
import { nodeArgsFrom, tsxTsconfig } from './node-args.ts';
import { kill, start, startDante as startDanteProcess, waitForPort, type Peer } from '../test/helpers/peers.ts';

export interface NamedPeer extends Peer {
  name: string;
  /** The server's process id, where its CPU is measured. */
  pid?: number;
}

/**
 * Our SOCKS server (`wsocks socks`) as its own process, from this checkout or from `root` (BENCH_BASE). Extra node
 * flags from BENCH_SOCKS_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): the server is then stopped with
 * SIGTERM, so that it exits normally and writes its profile.
 */
export async function startOurs(root = join(import.meta.dirname, '..'), name = 'wsocks'): Promise<NamedPeer> {
  const port = await freePort();
  const bin = join(root, 'bin/wsocks.js');
  const nodeArgs = nodeArgsFrom('BENCH_SOCKS_NODE_ARGS');
  const { child, stderr } = start(process.execPath, [...nodeArgs, bin, 'socks', '--listen', `127.0.0.1:${port}`, '--quiet'], tsxTsconfig(root));
  await waitForPort(port, child, name, stderr);
  const stop = async () => {
    if (nodeArgs.length > 0 && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await kill(child);
  };
  return { name, port, pid: child.pid!, stop };
}

const installed = (p: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(`${d}/${p}`));

export async function startMicrosocks(): Promise<NamedPeer | string> {
  if (!installed('microsocks')) return 'microsocks not installed';
  const port = await freePort();
  const { child, stderr } = start('microsocks', ['-i', '127.0.0.1', '-p', String(port)]);
  await waitForPort(port, child, 'microsocks', stderr);
  return { name: 'microsocks', port, pid: child.pid!, stop: () => kill(child) };
}

export async function startDante(): Promise<NamedPeer | string> {
  if (!installed('danted')) return 'danted not installed';
  if (process.getuid?.() !== 0) return 'danted needs root here';
  return { name: 'dante', ...(await startDanteProcess({ auth: false })) };
}

/** websockify relaying every WebSocket (subprotocol `binary`) to one TCP connection to 127.0.0.1:targetPort. */
export async function startWebsockify(targetPort: number): Promise<NamedPeer | string> {
  if (!installed('websockify')) return 'websockify not installed';
  const port = await freePort();
  const { child, stderr } = start('websockify', [`127.0.0.1:${port}`, `127.0.0.1:${targetPort}`]);
  await waitForPort(port, child, 'websockify', stderr);
  return { name: 'websockify', port, pid: child.pid!, stop: () => kill(child) };
}

/** The wisp-js server (npm dev dependency), with loopback targets allowed. */
export async function startWisp(): Promise<NamedPeer | string> {
  let cli: string;
  try {
    const entry = createRequire(import.meta.url).resolve('@mercuryworkshop/wisp-js/server');
    cli = join(dirname(entry), '../src/bin/server_cli.mjs'); // entry: <package>/dist/wisp-server.cjs
  } catch {
    return 'wisp-js not installed (npm install)';
  }
  const port = await freePort();
  const options = JSON.stringify({ allow_loopback_ips: true, allow_private_ips: true });
  const { child, stderr } = start(process.execPath, [cli, '-H', '127.0.0.1', '-P', String(port), '-L', 'NONE', '-O', options]);
  await waitForPort(port, child, 'wisp-js', stderr);
  return { name: 'wisp-js', port, pid: child.pid!, stop: () => kill(child) };
}

export function ensureBenchPeers(): void {
  spawnSync(process.execPath, [join(import.meta.dirname, '../scripts/ensure-system-deps.js'), '--bench'], { stdio: 'inherit' });
}
