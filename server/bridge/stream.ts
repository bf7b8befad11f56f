/**
 * One stream of a session on the bridge side: the TCP socket to the target (or last hop) and the credit accounting
 * both ways. Target -> browser: the bridge sends at most the credit the client granted and pauses the socket when
 * it runs out. Browser -> target: the client may send up to the window the bridge granted; the bridge grants it
 * back once the bytes are written to the socket, so a stalled target stalls only its own stream.
 */
import type { Socket } from 'node:net';
import { WsocksError, WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { BridgeMessage } from '../../shared/protocol/messages.ts';
import type { DirectReads } from '../net/relay.ts';
import { ReadLease } from './read-lease.ts';
import type { WindowBudget } from '../../shared/protocol/window-budget.ts';
import { UploadQueue } from './upload-queue.ts';
import { resetSocket } from '../net/reset.ts';

export interface StreamHost {
  sendControl(message: BridgeMessage): void;
  /** Stream bytes; the host may join them with the stream's next bytes into one message. */
  sendData(id: number, data: Uint8Array, lease?: ReadLease): void;
  /** A datagram: exactly one message. */
  sendDatagram(id: number, datagram: Uint8Array): void;
  /** Called once when the stream is gone, whatever the reason. */
  removed(id: number): void;
  /**
   * The session's outgoing buffer is over its bound: streams stop reading from their targets, whatever credit the
   * client granted, until the session calls `onDrain`.
   */
  readonly congested: boolean;
}

/** The `error` message for a stream, with the hop and reply code where there are some. */
export function errorMessage(id: number, error: WsocksError): BridgeMessage {
  return {
    type: 'error',
    id,
    code: error.code,
    message: error.message,
    ...(error.hop !== undefined ? { hop: error.hop } : {}),
    ...(error.replyCode !== undefined ? { replyCode: error.replyCode } : {}),
  };
}

export class BridgeStream {
  private socket: Socket | undefined;
  /** Bytes we may still send to the client. */
  private credit: number;
  /** Bytes the client may still send us. */
  private allowance: number;
  /** Bytes written to the target and not yet granted back. */
  private toGrant = 0;
  /** The upload window now: it starts at `limits.window` and grows while the target keeps up. */
  private window: number;
  private pending: Buffer | undefined;
  /** The lease of the read `pending` is part of (server/bridge/read-lease.ts), when it has one. */
  private pendingLease: ReadLease | undefined;
  /** The target sent FIN; our `end` message waits until the bytes before it have been delivered. */
  private endPending = false;
  /**
   * The socket has closed both ways, but bytes it sent may still wait for the client's credit: `close` goes out only
   * once they (and `end`) have been delivered, bounded by the idle timeout.
   */
  private targetClosed = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** The client sent `end`: data after it is a bad message, dropped. */
  private clientEnded = false;
  /** The client's bytes that came while the target's socket still held earlier ones: written once it has taken them. */
  private readonly queued = new UploadQueue();
  /** The client's `end` came while bytes were queued: the FIN follows them. */
  private endAfterQueued = false;
  private finished = false;
  /** Aborted when the client closes the stream or the session ends while connecting. */
  readonly abort = new AbortController();

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    clientWindow: number,
    private readonly windows: WindowBudget,
    private readonly idleTimeoutMs: number,
  ) {
    this.credit = clientWindow;
    this.window = windows.initial;
    this.allowance = windows.initial;
  }

  /**
   * Takes over a connected socket, sends `opened`, and starts relaying. With `reads` (a direct target, dial-route's
   * `directReads`) the target's bytes come from it, each read with a lease that the host holds until it has written
   * them (a host given `reads` must take the leases: StreamHost.sendData).
   */
  attach(socket: Socket, remote: { address: string; port: number }, early: Uint8Array, reads?: DirectReads): void {
    if (this.finished) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    this.host.sendControl({ type: 'opened', id: this.id, remoteAddress: remote.address, remotePort: remote.port, window: this.windows.initial });
    // The bytes that came with the last handshake reply come first.
    if (early.length > 0) this.fromTarget(Buffer.from(early));
    if (reads) {
      // Reads before this one were copied and paused the socket (DirectReads.attach); resume() below reads on.
      const before = reads.attach((chunk) => {
        this.fromTarget(chunk, new ReadLease(reads.held()));
        // deliver() pauses the socket itself when it must.
        return true;
      });
      for (const chunk of before) this.fromTarget(chunk);
    } else socket.on('data', (chunk: Buffer) => this.fromTarget(chunk));
    socket.on('end', () => {
      this.endPending = true;
      this.flushEnd();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(socketError(err)));
    socket.on('close', () => {
      this.targetClosed = true;
      this.finishIfDelivered();
    });
    if (this.idleTimeoutMs > 0) {
      socket.setTimeout(this.idleTimeoutMs, () =>
        this.fail(new WsocksError(WsocksErrorCode.IDLE_TIMEOUT, `no traffic for ${this.idleTimeoutMs} ms`)),
      );
    }
    socket.resume();
  }

  private fromTarget(chunk: Buffer, lease?: ReadLease): void {
    if (this.pending) {
      // Copied: neither read's buffer is held here any more.
      this.pending = Buffer.concat([this.pending, chunk]);
      this.pendingLease?.drop();
      this.pendingLease = undefined;
      lease?.drop();
      return;
    }
    this.deliver(chunk, lease);
  }

  /**
   * Sends what credit allows, and nothing while the session is congested; keeps the rest and pauses the socket.
   * So what the bridge holds for a stream is one read from the target, whatever window the client announced.
   */
  private deliver(chunk: Buffer, lease: ReadLease | undefined): void {
    const n = this.host.congested ? 0 : Math.min(this.credit, chunk.length);
    if (n > 0) {
      this.credit -= n;
      this.host.sendData(this.id, chunk.subarray(0, n), lease);
    }
    if (n < chunk.length) {
      this.pending = chunk.subarray(n);
      this.pendingLease = lease;
      this.socket?.pause();
    } else {
      this.pending = undefined;
      this.pendingLease = undefined;
      lease?.drop();
      if (this.host.congested) this.socket?.pause();
    }
  }

  /** Sends what waits for credit or for the session to drain; reads from the target again once it is all sent. */
  private flushPending(): void {
    if (this.finished) return;
    if (this.pending) {
      const p = this.pending;
      const lease = this.pendingLease;
      this.pending = undefined;
      this.pendingLease = undefined;
      this.deliver(p, lease);
    }
    if (!this.pending) {
      if (!this.host.congested) this.socket?.resume();
      this.flushEnd();
    }
  }

  /** The session's outgoing buffer drained. */
  onDrain(): void {
    this.flushPending();
  }

  private flushEnd(): void {
    if (this.endPending && !this.pending && !this.finished) {
      this.host.sendControl({ type: 'end', id: this.id });
      this.endPending = false;
    }
    this.finishIfDelivered();
  }

  /** Once the socket has closed: `close` when every byte and the `end` before it are out, else wait for credit. */
  private finishIfDelivered(): void {
    if (this.finished || !this.targetClosed) return;
    if (this.pending || this.endPending) {
      if (this.idleTimeoutMs > 0) {
        clearTimeout(this.lingerTimer);
        this.lingerTimer = setTimeout(
          () => this.fail(new WsocksError(WsocksErrorCode.IDLE_TIMEOUT, `no credit for the stream's last bytes for ${this.idleTimeoutMs} ms`)),
          this.idleTimeoutMs,
        );
      }
      return;
    }
    this.finished = true;
    this.releaseWindow();
    clearTimeout(this.lingerTimer);
    this.host.sendControl({ type: 'close', id: this.id });
    this.host.removed(this.id);
  }

  onCredit(bytes: number): void {
    this.credit += bytes;
    if (this.pending) this.flushPending();
  }

  onData(data: Uint8Array): void {
    if (!this.socket || this.finished) return;
    if (this.clientEnded) {
      // A bad message, not a stream failure: the other direction may still be delivering.
      this.host.sendControl({ type: 'error', code: WsocksErrorCode.BAD_MESSAGE, message: `data on stream ${this.id} after its end: dropped` });
      return;
    }
    if (data.length > this.allowance) {
      this.fail(new WsocksError(WsocksErrorCode.FLOW_CONTROL, `sent ${data.length} bytes with ${this.allowance} bytes of credit`));
      return;
    }
    this.allowance -= data.length;
    // The socket still holds bytes: these are packed behind them (a write per message would hold a write request,
    // and the whole socket read a small message came in, for each of them: upload-queue.ts).
    if (this.queued.length > 0 || this.socket.writableLength > 0) this.queued.push(data);
    else this.write(this.socket, data);
  }

  private write(socket: Socket, data: Uint8Array): void {
    socket.write(data, (err) => {
      if (err || this.finished) return;
      this.toGrant += data.length;
      // Grant in batches of a quarter window: fewer messages, and the client never waits on a full window.
      if (this.toGrant >= this.window / 4 || this.allowance === 0) {
        let bytes = this.toGrant;
        // The target keeps up (nothing waits in its socket's buffer): a larger window costs no memory while it
        // does, and spares the client waiting for credit. A target that lags keeps the window it has.
        if (socket.writableLength === 0 && this.queued.length === 0) {
          const grown = this.windows.grow(this.window);
          bytes += grown - this.window;
          this.window = grown;
        }
        this.allowance += bytes;
        this.host.sendControl({ type: 'credit', id: this.id, bytes });
        this.toGrant = 0;
      }
      // The socket has taken everything before what waits: it goes now, and the client's FIN after it.
      if (this.queued.length > 0 && socket.writableLength === 0) {
        socket.cork();
        for (const chunk of this.queued.take()) this.write(socket, chunk);
        socket.uncork();
        if (this.endAfterQueued) {
          this.endAfterQueued = false;
          socket.end();
        }
      }
    });
  }

  /** The client has no more to send: FIN to the target. */
  onEnd(): void {
    this.clientEnded = true;
    if (this.queued.length > 0) this.endAfterQueued = true;
    else this.socket?.end();
  }

  /** The client closed (aborted) the stream: reset the target's connection, without a reply. */
  onClose(): void {
    this.stopDialing();
    this.teardown();
  }

  /** Connecting failed, or the connection did: report it and tear down. */
  fail(error: WsocksError): void {
    if (this.finished) return;
    this.host.sendControl(errorMessage(this.id, error));
    this.teardown();
  }

  /** The session is gone. */
  destroy(): void {
    this.stopDialing();
    this.teardown();
  }

  /** Cancels the dial while there is one (once attached nothing listens: aborting would only build a DOMException). */
  private stopDialing(): void {
    if (!this.socket) this.abort.abort();
  }

  /** The window's growth goes back to the session's budget (once: `finished` guards both callers). */
  private releaseWindow(): void {
    this.windows.release(this.window);
    this.window = this.windows.initial;
  }

  /** Every end but the clean one is an abort: the target gets an RST, not a FIN that would pass for a complete stream. */
  private teardown(): void {
    if (this.finished) return;
    this.finished = true;
    this.releaseWindow();
    this.pending = undefined;
    this.pendingLease?.drop();
    this.pendingLease = undefined;
    clearTimeout(this.lingerTimer);
    const socket = this.socket;
    if (socket) resetSocket(socket);
    this.host.removed(this.id);
  }
}

/** A reset (ECONNRESET, or EPIPE writing to a reset peer) is its own code: the client must not take it for an end. */
export function socketError(err: NodeJS.ErrnoException): WsocksError {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    return new WsocksError(WsocksErrorCode.STREAM_RESET, `the target reset the connection (${err.code})`);
  }
  return new WsocksError(WsocksErrorCode.STREAM_FAILED, `connection to the target failed: ${err.code ?? err.message}`);
}
