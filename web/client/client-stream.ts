/**
 * What every client-side stream shares: its id, its transcript, the `opened` and `closed` promises and how they
 * settle. Subclasses add their streams (bytes, datagrams) and clean them up in `settle`.
 */
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

/** What a stream needs from its session. */
export interface SocketTransport {
  sendControl(message: object): void;
  sendData(id: number, data: Uint8Array): void;
  readonly maxFrameData: number;
  forget(id: number): void;
}

/** Limits on a stream's life: `open()`'s options. */
export interface StreamGuard {
  /** Aborting it closes the stream (before or after it opened): `opened`/`closed` reject with ERR_ABORTED. */
  signal?: AbortSignal;
  /** Milliseconds to wait for `opened` (the whole handshake, every hop) before closing with ERR_TIMEOUT. */
  timeout?: number;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: WsocksError) => void;
}

/** A promise with its settle functions; marked handled, so an unobserved failure raises no warning. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: WsocksError) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export abstract class ClientStream<OpenInfo> {
  /** Every transcript entry so far (with `inspect: true`). */
  readonly transcript: TranscriptEntry[] = [];
  protected readonly openedD = deferred<OpenInfo>();
  private readonly closedD = deferred<void>();
  private readonly listeners = new Set<(entry: TranscriptEntry) => void>();
  protected settled = false;
  private unguard: (() => void) | undefined;

  constructor(
    readonly id: number,
    protected readonly transport: SocketTransport,
    { signal, timeout }: StreamGuard = {},
  ) {
    const abort = () => this.abort(new WsocksError(WsocksErrorCode.ABORTED, 'the stream was aborted', { cause: signal!.reason }));
    const timer =
      timeout === undefined ? undefined : setTimeout(() => this.abort(new WsocksError(WsocksErrorCode.TIMEOUT, `not opened within ${timeout} ms`)), timeout);
    signal?.addEventListener('abort', abort);
    this.unguard = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    };
    this.openedD.promise.then(() => clearTimeout(timer), () => {});
    if (signal?.aborted) queueMicrotask(abort);
  }

  get opened(): Promise<OpenInfo> {
    return this.openedD.promise;
  }

  /** Settles when the stream is gone: resolves after a clean close, rejects with the WsocksError that ended it. */
  get closed(): Promise<void> {
    return this.closedD.promise;
  }

  /** Listens for transcript entries as they arrive; returns a function that stops listening. */
  onTranscript(listener: (entry: TranscriptEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes both directions at once: the stream is gone. Resolves when it is (never rejects). */
  close(): Promise<void> {
    this.abort(undefined);
    return this.closed.catch(() => {});
  }

  /** Tells the bridge to close the stream, and ends it here with `error` (or cleanly). */
  private abort(error: WsocksError | undefined): void {
    if (this.settled) return;
    this.transport.sendControl({ type: 'close', id: this.id });
    this.finish(error);
  }

  // ---- called by the session ----

  handleTranscript(entry: TranscriptEntry): void {
    this.transcript.push(entry);
    for (const l of this.listeners) l(entry);
  }

  handleClose(): void {
    this.finish(undefined);
  }

  /** The bridge did not send a datagram this stream sent (UDP only). */
  handleDropped(_error: WsocksError, _count: number): void {}

  handleError(error: WsocksError): void {
    this.finish(error);
  }

  abstract handleOpened(remoteAddress: string, remotePort: number, window: number): void;
  abstract handleData(data: Uint8Array): void;
  handleBound(_address: string, _port: number): void {}
  handleCredit(_bytes: number): void {}
  handleEnd(): void {}

  /** Subclasses end their own streams here: with `error`, or cleanly. */
  protected abstract settle(error: WsocksError | undefined): void;

  protected finish(error: WsocksError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.unguard?.();
    this.transport.forget(this.id);
    this.settle(error);
    if (error) {
      this.openedD.reject(error);
      this.closedD.reject(error);
    } else {
      this.openedD.reject(new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'closed before it opened'));
      this.closedD.resolve();
    }
  }
}
