/**
 * Programs that run beside us (a KDC for the demo; Dante, sshd and others in tests): each in a process group of its
 * own, so that stopping it also stops what it forked, and killed with this process if nobody stops it first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

export interface Daemon {
  child: ChildProcess;
  /** The last 4000 characters it wrote on stderr. */
  stderr: () => string;
}

export function startDaemon(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: env ? { ...process.env, ...env } : process.env });
  // If this process dies before stopDaemon(), take the whole group down with it rather than leave daemons behind.
  const reap = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  return { child, stderr: () => err };
}

/** Kills the daemon's whole process group and waits for it to exit. */
export async function stopDaemon(child: ChildProcess): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is already gone
  }
  if (!exited) await once(child, 'exit');
}

/** Waits until the port accepts a connection: these programs print nothing reliable when ready. */
export async function waitForPort(port: number, child: ChildProcess, what: string, stderr: () => string, host = '127.0.0.1'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}: ${stderr()}`);
}
