/**
 * Runs an RFC 1961 subnegotiation machine (shared/socks/gssapi.ts) over a socket, for the bridge's hops and the
 * SOCKS server alike: bytes go to the machine as they arrive, so that it bounds what it holds however fast the peer
 * sends; the steps it gives back are applied one batch at a time, in order; the peer's FIN (for a machine that
 * cares) is handled after the bytes before it.
 */
import type { Socket } from 'node:net';
import type { GssStep } from '../../shared/socks/gssapi.ts';

export interface GssDriven {
  receive(data: Uint8Array): Promise<GssStep[]>;
  /** The peer closed: the steps that says (an error, unless the machine is done). */
  closed?(): GssStep[];
}

export interface GssDriveOptions {
  /** The machine's first steps (a client's first context token). */
  first?: () => Promise<GssStep[]>;
  /** Bytes that arrived before the subnegotiation began (after the method selection). */
  early?: Uint8Array;
  apply: (steps: GssStep[]) => void;
  /** The machine or a GSS operation threw: a coded SocksError, or whatever the operation rejected with. */
  fail: (err: unknown) => void;
}

/** Starts feeding the machine; `stop()` detaches from the socket (call it when the subnegotiation is over). */
export function driveGss(socket: Socket, machine: GssDriven, o: GssDriveOptions): { stop(): void } {
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const push = (make: () => Promise<GssStep[]> | GssStep[], eager: boolean) => {
    let ready: Promise<GssStep[]> | undefined;
    if (eager) {
      try {
        ready = Promise.resolve(make());
      } catch (err) {
        ready = Promise.reject(err);
      }
      // Handled below, once the batches before it are applied.
      ready.catch(() => undefined);
    }
    chain = chain
      .then(async () => {
        if (!stopped) o.apply(await (ready ?? make()));
      })
      .catch((err: unknown) => {
        if (stopped) return;
        stop();
        o.fail(err);
      });
  };
  const onData = (d: Buffer) => push(() => machine.receive(d), true);
  const onClose = () => push(() => machine.closed?.() ?? [], false);
  const onError = () => {};
  const stop = () => {
    stopped = true;
    socket.off('data', onData);
    socket.off('end', onClose);
    socket.off('close', onClose);
    socket.off('error', onError);
  };
  socket.on('data', onData);
  if (machine.closed) {
    socket.once('end', onClose);
    socket.once('close', onClose);
  }
  socket.on('error', onError);
  if (o.first) push(o.first, true);
  if (o.early && o.early.length > 0) {
    const early = o.early;
    push(() => machine.receive(early), true);
  }
  socket.resume();
  return { stop };
}
