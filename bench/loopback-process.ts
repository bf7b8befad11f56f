/**
 * Where the bench's sources and sinks run: in a process of their own (bench/loopback-child.ts, the default), or in
 * the bench process next to the clients (`BENCH_LOOPBACK=inline`, how the bench ran before). Both give the same
 * `Source` and `Sink` (bench/throughput.ts): the same bytes, the same holding source, `sink.next()` and
 * `sink.reached()` with the same meaning; the child's are driven over `fork`'s IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { LoopbackReply, type LoopbackRequest } from './loopback-messages.ts';
import { nodeArgsFrom } from './node-args.ts';
import { startSilentTarget, startSink, startSource, type Sink, type Source } from './throughput.ts';

/** A request without its id (the sender numbers them). */
type Ask = LoopbackRequest extends infer R ? (R extends LoopbackRequest ? Omit<R, 'id'> : never) : never;

/** Starts sources and sinks; `pid` is the process they run in (the bench's own when inline). */
export interface Loopback {
  pid: number;
  source(bytes: number, hold?: boolean): Promise<Source>;
  sink(): Promise<Sink>;
  /** A target that accepts connections and keeps them open, silent (connection rates, idle streams). */
  silent(): Promise<Source>;
  stop(): Promise<void>;
}

/** Sources and sinks in the bench process itself. */
export function inlineLoopback(): Loopback {
  return { pid: process.pid, source: startSource, sink: startSink, silent: startSilentTarget, stop: async () => {} };
}

/**
 * Sources and sinks in a child process. `nodeArgs`: extra node options for it (BENCH_LOOPBACK_NODE_ARGS, e.g.
 * `--cpu-prof --cpu-prof-dir=DIR`; the child exits normally when stopped, so a profile gets written).
 */
export async function childLoopback(nodeArgs = nodeArgsFrom('BENCH_LOOPBACK_NODE_ARGS')): Promise<Loopback> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'loopback-child.ts'), [], {
    execArgv: [...nodeArgs, '--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (m: LoopbackReply) => void; reject: (e: Error) => void }>();
  const ended = new Map<number, Array<(bytes: number) => void>>();
  let gone: Error | undefined;
  child.on('message', (raw) => {
    const m = LoopbackReply.parse(raw);
    if (m.type === 'ended') return void ended.get(m.server)?.shift()?.(m.bytes);
    if (m.id === undefined) return void process.stderr.write(`loopback process: ${m.type === 'error' ? m.message : m.type}\n`);
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.type === 'error') p?.reject(new Error(`loopback process: ${m.message}`));
    else p?.resolve(m);
  });
  child.on('exit', (code, signal) => {
    gone = new Error(`loopback process exited (${signal ?? code})`);
    for (const p of pending.values()) p.reject(gone);
    pending.clear();
  });
  await once(child, 'spawn');
  const request = (m: Ask): Promise<LoopbackReply> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ ...m, id });
    });
  };
  const listen = async (m: { type: 'source'; bytes: number; hold: boolean } | { type: 'sink' } | { type: 'silent' }) => {
    const id = nextId; // the server's id is its start request's id
    const reply = await request(m);
    if (reply.type !== 'listening') throw new Error(`loopback process: ${reply.type} instead of listening`);
    const port = reply.port;
    return { id, port, close: () => void request({ type: 'close', server: id }).catch(() => {}) };
  };
  return {
    pid: child.pid!,
    source: async (bytes, hold = false) => {
      const { port, close } = await listen({ type: 'source', bytes, hold });
      return { port, close };
    },
    silent: async () => {
      const { port, close } = await listen({ type: 'silent' });
      return { port, close };
    },
    sink: async () => {
      const waiters: Array<(bytes: number) => void> = [];
      const { id, port, close } = await listen({ type: 'sink' });
      ended.set(id, waiters);
      return {
        port,
        next: () => new Promise((resolve) => waiters.push(resolve)),
        reached: async (n) => void (await request({ type: 'reached', server: id, n })),
        close,
      };
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.disconnect();
      await exited;
    },
  };
}

/** The loopback the bench uses: a child process unless BENCH_LOOPBACK=inline. */
export function startLoopback(): Promise<Loopback> | Loopback {
  const mode = process.env.BENCH_LOOPBACK ?? 'process';
  if (mode === 'inline') return inlineLoopback();
  if (mode !== 'process') throw new Error(`BENCH_LOOPBACK=${mode}: expected "process" (default) or "inline"`);
  return childLoopback();
}
