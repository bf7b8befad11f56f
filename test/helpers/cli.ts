/** Runs the real `wsocks` command line (bin/wsocks.js) as a child process, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/wsocks.js');

export interface Cli {
  child: ChildProcess;
  /** The first line on stdout. */
  banner: Promise<string>;
  exit: Promise<number>;
  stderr: () => string;
  /** Resolves once stderr contains `pattern`. */
  waitErr(pattern: RegExp): Promise<void>;
}

export function runCli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of [...waiters]) w();
  });
  let out = '';
  const banner = new Promise<string>((resolve) =>
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    }),
  );
  const exit = once(child, 'exit').then(([code]) => code as number);
  const waitErr = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(err)) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      void exit.then(() => reject(new Error(`exited before ${pattern}; stderr:\n${err}`)));
      check();
    });
  return { child, banner, exit, stderr: () => err, waitErr };
}

export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

