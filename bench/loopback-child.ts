/**
 * The bench's loopback process: sources and sinks (bench/throughput.ts) run here, in a process of their own, as the
 * target of a real stream would, instead of sharing the bench process with the clients it measures. Driven over the
 * IPC channel of `fork` by bench/loopback-process.ts (messages: bench/loopback-messages.ts); exits when the channel
 * closes.
 */
import { LoopbackRequest, type LoopbackReply } from './loopback-messages.ts';
import { startSilentTarget, startSink, startSource, type Sink, type Source } from './throughput.ts';

// After the bench has disconnected (stopping), replies to its last requests have nobody to go to: with a callback,
// a failed send is not an 'error' event on the process.
const send = (m: LoopbackReply): void => void (process.connected && process.send!(m, undefined, undefined, () => {}));
const servers = new Map<number, { source: Source } | { sink: Sink; open: boolean }>();

async function handle(raw: unknown): Promise<void> {
  const parsed = LoopbackRequest.safeParse(raw);
  if (!parsed.success) {
    const id = (raw as { id?: unknown } | null)?.id;
    return send({ type: 'error', ...(typeof id === 'number' ? { id } : {}), message: `bad request: ${parsed.error.message}` });
  }
  const m = parsed.data;
  switch (m.type) {
    case 'source': {
      const source = await startSource(m.bytes, m.hold);
      servers.set(m.id, { source });
      return send({ type: 'listening', id: m.id, port: source.port });
    }
    case 'silent': {
      const source = await startSilentTarget();
      servers.set(m.id, { source });
      return send({ type: 'listening', id: m.id, port: source.port });
    }
    case 'sink': {
      const sink = await startSink();
      const entry = { sink, open: true };
      servers.set(m.id, entry);
      send({ type: 'listening', id: m.id, port: sink.port });
      // Report every connection's end; the parent hands each report to the waiter its next() queued.
      while (entry.open) send({ type: 'ended', server: m.id, bytes: await sink.next() });
      return;
    }
    case 'reached': {
      const entry = servers.get(m.server);
      if (!entry || !('sink' in entry)) return send({ type: 'error', id: m.id, message: `no sink ${m.server}` });
      await entry.sink.reached(m.n);
      return send({ type: 'reached', id: m.id });
    }
    case 'close': {
      const entry = servers.get(m.server);
      if (!entry) return send({ type: 'error', id: m.id, message: `no server ${m.server}` });
      servers.delete(m.server);
      if ('source' in entry) entry.source.close();
      else {
        entry.open = false;
        entry.sink.close();
      }
      return send({ type: 'closed', id: m.id });
    }
  }
}

process.on('message', (m) => void handle(m));
process.on('disconnect', () => process.exit(0));
