/** SOCKS servers as separate processes for benchmarks: ours, and microsocks and Dante when installed. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../server/net/listen.ts';
import { kill, start, startDante as startDanteProcess, waitForPort, type Peer } from '../test/helpers/peers.ts';

export interface NamedPeer extends Peer {
  name: string;
}

export async function startOurs(): Promise<NamedPeer> {
  const port = await freePort();
  const bin = join(import.meta.dirname, '../bin/wsocks.js');
  const { child, stderr } = start(process.execPath, [bin, 'socks', '--listen', `127.0.0.1:${port}`, '--quiet']);
  await waitForPort(port, child, 'wsocks socks', stderr);
  return { name: 'wsocks', port, stop: () => kill(child) };
}

const installed = (p: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(`${d}/${p}`));

export async function startMicrosocks(): Promise<NamedPeer | string> {
  if (!installed('microsocks')) return 'microsocks not installed';
  const port = await freePort();
  const { child, stderr } = start('microsocks', ['-i', '127.0.0.1', '-p', String(port)]);
  await waitForPort(port, child, 'microsocks', stderr);
  return { name: 'microsocks', port, stop: () => kill(child) };
}

export async function startDante(): Promise<NamedPeer | string> {
  if (!installed('danted')) return 'danted not installed';
  if (process.getuid?.() !== 0) return 'danted needs root here';
  return { name: 'dante', ...(await startDanteProcess({ auth: false })) };
}

export function ensureBenchPeers(): void {
  spawnSync(process.execPath, [join(import.meta.dirname, '../scripts/ensure-system-deps.js'), '--bench'], { stdio: 'inherit' });
}
