/**
 * A connection protected per RFC 1961 §5: every write is sealed with gss_wrap and sent as encapsulated messages
 * (`01 03 LEN TOKEN`), every message read is unwrapped, in order. It stands in for the TCP socket from the
 * SOCKS5 request on (the request and reply travel encapsulated too), with the socket calls the bridge makes
 * (pause/resume, write/end, setTimeout, resetAndDestroy, the addresses).
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { encodeGssMessage, GssFrameReader } from '../../shared/socks/gssapi.ts';
import { resetSocket } from '../net/reset.ts';

export interface ProtectionOps {
  wrap(data: Uint8Array, confidential: boolean): Promise<Uint8Array>;
  unwrap(token: Uint8Array): Promise<Uint8Array>;
}

/** Data per message: a wrap token adds a header, a checksum and (confidentiality) padding; LEN must stay ≤ 65535. */
const CHUNK = 32 * 1024;
/** Token bytes waiting to be unwrapped past which the socket is not read (a peer that floods waits for us). */
const QUEUE_HIGH = 256 * 1024;

export class GssProtectedStream extends Duplex {
  private readonly reader = new GssFrameReader();
  /** Unwraps run one after another, so data comes out in the order it arrived. */
  private unwrapping: Promise<void> = Promise.resolve();
  private rawEnded = false;
  /** Token bytes received and not yet unwrapped. */
  private queued = 0;
  /** The reader wants data: set by _read, cleared when push says the buffer is full. */
  private wanted = false;

  constructor(
    private readonly raw: Socket,
    private readonly ops: ProtectionOps,
    private readonly confidential: boolean,
    /** Bytes the raw socket delivered before this stream took over. */
    early: Uint8Array,
  ) {
    super({ allowHalfOpen: true });
    raw.on('data', this.onRawData);
    raw.once('end', () => {
      this.rawEnded = true;
      void this.unwrapping.then(() => {
        if (this.destroyed) return;
        if (this.reader.pending > 0) this.destroy(Object.assign(new Error('the connection ended inside an encapsulated message'), { code: 'ECONNRESET' }));
        else this.push(null);
      });
    });
    raw.on('error', (err) => this.destroy(err));
    raw.on('timeout', () => this.emit('timeout'));
    raw.once('close', () => {
      if (!this.rawEnded) this.destroy();
    });
    raw.pause();
    if (early.length > 0) this.onRawData(Buffer.from(early));
  }

  private readonly onRawData = (chunk: Buffer): void => {
    let tokens: Uint8Array[];
    try {
      tokens = this.reader.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const token of tokens) {
      this.queued += token.length;
      this.unwrapping = this.unwrapping.then(async () => {
        if (this.destroyed) return;
        try {
          const plain = await this.ops.unwrap(token);
          this.queued -= token.length;
          if (this.destroyed) return;
          if (plain.length > 0 && !this.push(Buffer.from(plain))) this.wanted = false;
          this.flow();
        } catch (err) {
          this.destroy(err as Error);
        }
      });
    }
    this.flow();
  };

  /** Reads the socket only while the reader wants data and the unwrap queue is short. */
  private flow(): void {
    if (this.raw.destroyed) return;
    if (this.wanted && this.queued <= QUEUE_HIGH) this.raw.resume();
    else this.raw.pause();
  }

  override _read(): void {
    this.wanted = true;
    this.flow();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    void (async () => {
      try {
        for (let at = 0; at < chunk.length; at += CHUNK) {
          const token = await this.ops.wrap(chunk.subarray(at, at + CHUNK), this.confidential);
          if (this.raw.destroyed) throw Object.assign(new Error('the connection is closed'), { code: 'EPIPE' });
          this.raw.write(encodeGssMessage(0x03, token));
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    })();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.raw.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.off('data', this.onRawData);
    if (!this.raw.destroyed) this.raw.destroy();
    callback(error);
  }

  /** Closes with an RST, as Socket.resetAndDestroy does. */
  resetAndDestroy(): this {
    resetSocket(this.raw);
    this.destroy();
    return this;
  }

  /** The idle timeout runs on the underlying socket's traffic; its 'timeout' event is re-emitted here. */
  setTimeout(ms: number, callback?: () => void): this {
    this.raw.setTimeout(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.raw.remotePort;
  }
  get localAddress(): string | undefined {
    return this.raw.localAddress;
  }
  get localPort(): number | undefined {
    return this.raw.localPort;
  }

  /** The bridge holds streams as sockets; this is one in every way it uses them. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}
