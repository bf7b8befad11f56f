/**
 * A TCP target whose behaviour each test scripts: every accepted connection is handed to the current `script`.
 * It counts its open sockets, so that a test can wait until the target side has seen every connection close.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export type Script = (socket: Socket) => void;

export interface ScriptedTarget {
  port: number;
  script: Script;
  /** Sockets the target has open right now. */
  readonly open: number;
  /** Resolves once the target has no open socket. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startScripted(): Promise<ScriptedTarget> {
  const sockets = new Set<Socket>();
  let waiters: Array<() => void> = [];
  const state: { script: Script } = { script: (s) => s.destroy() };
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => {
      sockets.delete(s);
      if (sockets.size === 0) {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      }
    });
    state.script(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    get script() {
      return state.script;
    },
    set script(s: Script) {
      state.script = s;
    },
    get open() {
      return sockets.size;
    },
    idle: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Random bytes with their sha256. */
export function payload(n: number): { data: Buffer; sha: string } {
  const data = randomBytes(n);
  return { data, sha: sha256(data) };
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a socket until its FIN; resolves to everything it got (rejects on error). */
export function readSocketToEnd(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}
