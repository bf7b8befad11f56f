/**
 * A tunneled TCP stream in the shape of the Direct Sockets `TCPSocket`: `opened` resolves to Web Streams of bytes,
 * `closed` settles when both directions are done, `close()` forces both down. Backpressure of the streams is the
 * protocol's credit: the bridge sends only what the readable has room for, and the writable waits for credit.
 */
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { WindowBudget } from '../../shared/protocol/window-budget.ts';
import { ClientStream, deferred, type SocketTransport, type StreamGuard } from './client-stream.ts';

/** What the writable accepts (the DOM's BufferSource). */
export type BytesSource = ArrayBuffer | ArrayBufferView;

export interface SocketOpenInfo {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<BytesSource>;
  remoteAddress: string;
  remotePort: number;
}

export type { SocketTransport };

/** A stream's receive window: where it starts, and the most it may grow to. */
export interface StreamWindow {
  initial: number;
  max: number;
}

export class WsocksSocket extends ClientStream<SocketOpenInfo> {
  private readonly boundD = deferred<{ address: string; port: number }>();

  private readable: ReadableStreamDefaultController<Uint8Array> | undefined;
  private readableDone = false;
  /** Bytes the bridge may still send us. */
  private outstanding: number;
  /** The receive window now: what the readable may hold plus what the bridge may still send. */
  private window: number;
  /** Bytes we may still send the bridge. */
  private credit = 0;
  private creditWaiters: Array<() => void> = [];

  constructor(
    id: number,
    transport: SocketTransport,
    /** The session's window budget (ConnectOptions.window and maxWindow), shared by its streams for growing. */
    private readonly windows: WindowBudget,
    guard: StreamGuard = {},
  ) {
    super(id, transport, guard);
    this.window = windows.initial;
    this.outstanding = windows.initial;
  }

  /** BIND only: where the last hop listens (its first reply); the peer connects there. */
  get bound(): Promise<{ address: string; port: number }> {
    return this.boundD.promise;
  }

  // ---- called by the session ----

  override handleBound(address: string, port: number): void {
    this.boundD.resolve({ address, port });
  }

  handleOpened(remoteAddress: string, remotePort: number, window: number): void {
    if (this.readable || this.settled) return; // a second `opened` from a confused bridge changes nothing
    this.credit = window;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.readable = c;
        },
        pull: () => this.grant(),
        cancel: () => void this.close(),
      },
      { highWaterMark: this.windows.max, size: (chunk) => chunk.byteLength },
    );
    const writable = new WritableStream<BytesSource>({
      write: (chunk) => this.write(chunk),
      close: () => {
        if (!this.settled) this.transport.sendControl({ type: 'end', id: this.id });
      },
      abort: () => void this.close(),
    });
    this.openedD.resolve({ readable, writable, remoteAddress, remotePort });
  }

  handleData(data: Uint8Array): void {
    if (!this.readable || this.readableDone || this.settled) return; // data before `opened`: not a stream yet
    this.outstanding -= data.length;
    if (this.outstanding < 0) {
      // More than the credit granted: a bridge that ignores flow control must not fill this page's memory.
      this.transport.sendControl({ type: 'close', id: this.id });
      return this.finish(new WsocksError(WsocksErrorCode.FLOW_CONTROL, 'the bridge sent more than the credit granted'));
    }
    // No copy: every WebSocket message arrives in an ArrayBuffer of its own, so the view is the consumer's to keep.
    this.readable.enqueue(data);
  }

  override handleCredit(bytes: number): void {
    this.credit += bytes;
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
  }

  override handleEnd(): void {
    if (this.readableDone) return;
    this.readableDone = true;
    this.readable?.close();
  }

  // ---- internals ----

  /**
   * Grants the bridge the room the window has beyond what the readable holds and what is already granted, in
   * batches of a quarter window. The window doubles (up to its max) at each grant made while the readable is empty
   * after data came in: the reader keeps up, so the stream is limited by credit, not by its reader, and more credit
   * costs no memory unless the reader later stops (then at most the max is held). A lagging reader keeps its window.
   * Growth comes from a budget the session's streams share, so that streams that keep up do not take the bridge's
   * buffer from the others (with many streams at once, windows stay at their initial size).
   */
  private grant(): void {
    if (!this.readable || this.settled) return;
    const queued = this.windows.max - (this.readable.desiredSize ?? this.windows.max);
    const used = this.outstanding < this.window;
    if (queued === 0 && used) this.window = this.windows.grow(this.window);
    const room = this.window - queued - this.outstanding;
    if (room >= this.window / 4) {
      this.outstanding += room;
      this.transport.sendControl({ type: 'credit', id: this.id, bytes: room });
    }
  }

  private async write(chunk: BytesSource): Promise<void> {
    let bytes: Uint8Array;
    if (chunk instanceof ArrayBuffer) bytes = new Uint8Array(chunk);
    else if (ArrayBuffer.isView(chunk)) bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw new TypeError('write() takes an ArrayBuffer or an ArrayBufferView');
    let at = 0;
    while (at < bytes.length) {
      if (this.settled) throw new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'the stream is closed');
      if (this.credit === 0) {
        await new Promise<void>((resolve) => this.creditWaiters.push(resolve));
        continue;
      }
      const n = Math.min(this.credit, bytes.length - at, this.transport.maxFrameData);
      this.transport.sendData(this.id, bytes.subarray(at, at + n));
      this.credit -= n;
      at += n;
    }
  }

  protected settle(error: WsocksError | undefined): void {
    this.windows.release(this.window);
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
    this.boundD.reject(error ?? new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'closed before a BIND reply'));
    if (this.readable && !this.readableDone) {
      if (error) this.readable.error(error);
      else {
        try {
          this.readable.close();
        } catch {
          // already closed by the consumer
        }
      }
    }
    this.readableDone = true;
  }
}
