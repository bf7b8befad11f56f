/** Starts SOCKS servers as separate processes for benchmarks: ours, and microsocks and Dante when installed. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

export interface Peer {
  name: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once something accepts TCP connections on the port (the peers print nothing when ready). */
async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function stopper(child: ChildProcess, cleanup = () => {}): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    cleanup();
  };
}

export async function startOurs(): Promise<Peer> {
  const port = await freePort();
  const bin = join(import.meta.dirname, '../bin/wsocks.js');
  const child = spawn(process.execPath, [bin, 'socks', '--listen', `127.0.0.1:${port}`, '--quiet'], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { name: 'wsocks', port, stop: stopper(child) };
}

const which = (p: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].find((d) => existsSync(`${d}/${p}`));

export async function startMicrosocks(): Promise<Peer | string> {
  if (!which('microsocks')) return 'microsocks not installed';
  const port = await freePort();
  const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { name: 'microsocks', port, stop: stopper(child) };
}

export async function startDante(): Promise<Peer | string> {
  if (!which('danted')) return 'danted not installed';
  if (process.getuid?.() !== 0) return 'danted needs root here';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-dante-'));
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
`,
  );
  const child = spawn(which('danted')! + '/danted', ['-f', conf, '-p', join(dir, 'pid'), '-N', '1'], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { name: 'dante', port, stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })) };
}

export function ensureBenchPeers(): void {
  spawnSync(process.execPath, [join(import.meta.dirname, '../scripts/ensure-system-deps.js'), '--bench'], { stdio: 'inherit' });
}
