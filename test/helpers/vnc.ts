/**
 * A real VNC server on loopback for tests: Debian's TigerVNC `Xtigervnc` (package tigervnc-standalone-server), an X
 * server whose screen is served over RFB, with no VNC authentication (-SecurityTypes None) and its RFB port bound to
 * loopback only (-localhost). Its X display is picked by the server itself (-displayfd); the root window is painted
 * with `xsetroot` (package x11-xserver-utils).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface VncServer {
  /** The RFB port on 127.0.0.1. */
  port: number;
  /** The X display, e.g. `:3`. */
  display: string;
  width: number;
  height: number;
  /** Paints the whole root window one colour (`#rrggbb`) with xsetroot. */
  paint(colour: string): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Reads the display number Xtigervnc writes on fd 3 once it accepts X clients; rejects if it exits first. */
function displayOf(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.setEncoding('utf8');
    fd3.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    child.once('exit', (code, signal) => reject(new Error(`Xtigervnc exited (${code ?? signal}) before it was ready: ${stderr().slice(-2000)}`)));
  });
}

async function startOnce(width: number, height: number): Promise<VncServer> {
  const port = await freePort();
  let log = '';
  const child = spawn(
    'Xtigervnc',
    ['-displayfd', '3', '-rfbport', String(port), '-localhost', '-SecurityTypes', 'None', '-geometry', `${width}x${height}`, '-depth', '24', '-nolisten', 'tcp', '-AlwaysShared'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (log = (log + d).slice(-8000)));
  const exited = once(child, 'exit');
  let display: string;
  try {
    display = await displayOf(child, () => log);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    display,
    width,
    height,
    paint: async (colour) => void (await run('xsetroot', ['-display', display, '-solid', colour])),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Starts Xtigervnc (retrying if the free port it was given was taken meanwhile). */
export async function startVncServer(width = 320, height = 200): Promise<VncServer> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(width, height);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
