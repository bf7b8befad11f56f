/**
 * A tunneled TCP stream in the shape of the Direct Sockets `TCPSocket`: `opened` resolves to Web Streams of bytes,
 * `closed` settles when both directions are done, `close()` forces both down. Backpressure of the streams is the
 * protocol's credit: the bridge sends only what the readable has room for, and the writable waits for credit.
 */
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { TranscriptLog } from './transcript-log.ts';

/** What the writable accepts (the DOM's BufferSource). */
export type BytesSource = ArrayBuffer | ArrayBufferView;

export interface SocketOpenInfo {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<BytesSource>;
  remoteAddress: string;
  remotePort: number;
}

/** What a socket needs from its session. */
export interface SocketTransport {
  sendControl(message: object): void;
  sendData(id: number, data: Uint8Array): void;
  readonly maxFrameData: number;
  forget(id: number): void;
}

export class WsocksSocket extends TranscriptLog {
  readonly opened: Promise<SocketOpenInfo>;
  readonly closed: Promise<void>;
  /** BIND only: where the last hop listens (its first reply); the peer connects there. */
  readonly bound: Promise<{ address: string; port: number }>;
  private resolveBound!: (b: { address: string; port: number }) => void;
  private rejectBound!: (err: WsocksError) => void;

  private resolveOpened!: (info: SocketOpenInfo) => void;
  private rejectOpened!: (err: WsocksError) => void;
  private resolveClosed!: () => void;
  private rejectClosed!: (err: WsocksError) => void;
  private readable!: ReadableStreamDefaultController<Uint8Array>;
  private readableDone = false;
  /** Bytes the bridge may still send us. */
  private outstanding: number;
  /** Bytes we may still send the bridge. */
  private credit = 0;
  private creditWaiters: Array<() => void> = [];
  private settled = false;

  constructor(
    readonly id: number,
    private readonly transport: SocketTransport,
    private readonly window: number,
  ) {
    super();
    this.outstanding = window;
    this.bound = new Promise((resolve, reject) => {
      this.resolveBound = resolve;
      this.rejectBound = reject;
    });
    this.bound.catch(() => {});
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // An unobserved failure must not surface as an unhandled rejection.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /** Closes both directions at once (no FIN handshake): the stream is gone. */
  close(): void {
    if (this.settled) return;
    this.transport.sendControl({ type: 'close', id: this.id });
    this.finish(undefined);
  }

  // ---- called by the session ----

  handleBound(address: string, port: number): void {
    this.resolveBound({ address, port });
  }

  handleOpened(remoteAddress: string, remotePort: number, window: number): void {
    this.credit = window;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.readable = c;
        },
        pull: () => this.grant(),
        cancel: () => this.close(),
      },
      { highWaterMark: this.window, size: (chunk) => chunk.byteLength },
    );
    const writable = new WritableStream<BytesSource>({
      write: (chunk) => this.write(chunk),
      close: () => {
        if (!this.settled) this.transport.sendControl({ type: 'end', id: this.id });
      },
      abort: () => this.close(),
    });
    this.resolveOpened({ readable, writable, remoteAddress, remotePort });
  }

  handleData(data: Uint8Array): void {
    if (this.readableDone || this.settled) return;
    this.outstanding -= data.length;
    // A copy: the frame's buffer is the WebSocket's, and the consumer may keep the chunk.
    this.readable.enqueue(data.slice());
  }

  handleCredit(bytes: number): void {
    this.credit += bytes;
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
  }

  handleEnd(): void {
    if (this.readableDone) return;
    this.readableDone = true;
    this.readable?.close();
  }

  handleClose(): void {
    this.finish(undefined);
  }

  handleError(error: WsocksError): void {
    this.finish(error);
  }

  // ---- internals ----

  /** Grants the bridge the room the readable has beyond what is already granted, in batches. */
  private grant(): void {
    const room = (this.readable.desiredSize ?? 0) - this.outstanding;
    if (room >= this.window / 4 && !this.settled) {
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

  private finish(error: WsocksError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.transport.forget(this.id);
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
    this.rejectBound(error ?? new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'closed before a BIND reply'));
    if (error) {
      this.rejectOpened(error);
      this.rejectClosed(error);
      if (this.readable && !this.readableDone) this.readable.error(error);
    } else {
      this.rejectOpened(new WsocksError(WsocksErrorCode.SESSION_CLOSED, 'closed before it opened'));
      if (this.readable && !this.readableDone) {
        try {
          this.readable.close();
        } catch {
          // already closed by the consumer
        }
      }
      this.resolveClosed();
    }
    this.readableDone = true;
  }
}
