/**
 * Copies bytes both ways between two connected sockets until both directions have ended. A full writer pauses its
 * reader (backpressure); a FIN in one direction is passed on as a FIN and the other direction keeps flowing. A reset
 * on either side is passed on as a reset (never as a FIN, which would pass for a complete stream); another error or
 * the idle timeout resets both.
 *
 * `a -> b` is copied from 'data' events. `b -> a` is too, unless `b` is a socket we created ourselves with a
 * DirectReads' `onread`: then its reads land in one buffer of that connection, reused from read to read, and go to `a`
 * without a copy, an allocation or a trip through the stream machinery (the download direction of a SOCKS CONNECT).
 *
 * Bound: a direction stops reading as soon as a write leaves bytes its writer's kernel has not taken (the writer's
 * write() returns false and bytes remain queued) and resumes on 'drain'. On sockets made with RELAY_SOCKET_OPTIONS
 * (high-water marks of 1 byte) that is "anything queued": a direction holds at most the read being written and one
 * more read (a paused socket without `onread` reads until its buffer reaches the high-water mark: one read), however
 * small the reads are. With Node's default 16 KiB marks, a client trickling 1-byte segments to a stalled target made
 * the two buffers hold 16 Ki chunks each, a few hundred bytes of memory per byte.
 */
import type { Socket } from 'node:net';
import { resetSocket } from './reset.ts';

/**
 * Stream options for sockets that relay() copies between (net.createServer's and net.Socket's `highWaterMark`): a
 * write returns false whenever bytes stay queued, and a paused socket stops reading after one more read. See the bound
 * above. Copies decide by bytes still queued, so this costs no extra pause on a write the kernel took whole.
 */
export const RELAY_SOCKET_OPTIONS = { highWaterMark: 1 } as const;

export interface RelayOptions {
  /** Destroy both sockets after this long with no traffic either way; 0 disables it. */
  idleTimeoutMs: number;
}

/** Reads smaller than this land in one buffer shared by every connection and are copied out at once... */
export const DIRECT_READ_MIN_BYTES = 16 * 1024;
/** ...a read that fills it gives the connection a buffer of its own, this big (loopback delivers up to 64 KiB per
 * segment; a larger buffer takes several), reused without copies while reads fill a quarter of it or more. */
export const DIRECT_READ_MAX_BYTES = 256 * 1024;

/**
 * Where small reads land, for every connection: reads run one at a time on the event loop and each is copied out
 * before its callback returns, so no connection sees another's bytes, and a connection that only opens and closes
 * (or trickles) allocates no buffer of its own.
 */
const sharedSmall = Buffer.allocUnsafe(DIRECT_READ_MIN_BYTES);

/**
 * Large read buffers given back by their last holder (`held()`'s release), for any connection's next large read:
 * without them every 256 KiB read is a new allocation, and the garbage collector runs a full collection every few
 * dozen MiB of them (external memory). At most this many are kept (8 MiB for the process).
 */
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 32;

/**
 * The `onread` of a socket we create (`new Socket({ onread: reads.onread })`), for relay(): each read is handed to
 * a sink. Small reads land in a buffer shared by all connections and are handed on as copies. A read that fills it
 * switches the connection to a buffer of its own (DIRECT_READ_MAX_BYTES) whose reads are handed on without a copy;
 * that buffer is reused for the next read unless the sink's writer still holds it (a write that did not go out at
 * once): then the next read gets a fresh one (or, if the sink also paused the socket, the shared buffer: a paused
 * connection keeps no idle buffer), so no byte handed on is ever overwritten. Reads smaller than a quarter
 * of it go back to the shared buffer. Reads before a sink is attached are kept (copied) and the socket paused.
 */
export class DirectReads {
  /** The connection's own buffer, while reads are large. */
  private own: Buffer | undefined;
  private large = false;
  /** `own` was handed to a writer that has not sent it yet. */
  private lent = false;
  private sink: ((chunk: Buffer) => boolean) | undefined;
  private early: Buffer[] = [];
  /** Before attach: the socket whose readable side gets the reads (pushInto). */
  private readable: Socket | undefined;

  readonly onread = {
    buffer: (): Buffer => {
      if (!this.large) return sharedSmall;
      if (this.own === undefined || this.lent) {
        this.own = spareBuffers.pop() ?? Buffer.allocUnsafe(DIRECT_READ_MAX_BYTES);
        this.lent = false;
      }
      return this.own;
    },
    callback: (bytes: number, buffer: Uint8Array): boolean => {
      const shared = buffer === sharedSmall;
      if (shared ? bytes === buffer.length : bytes >= DIRECT_READ_MAX_BYTES / 4) this.large = true;
      else {
        this.large = false;
        this.own = undefined;
      }
      // A read in the shared buffer must leave it before the next read of any connection: copied.
      const chunk = shared ? Buffer.from(buffer.subarray(0, bytes)) : (buffer as Buffer).subarray(0, bytes);
      if (this.sink === undefined) {
        const copy = shared ? chunk : Buffer.from(chunk);
        if (this.readable) return this.readable.push(copy);
        this.early.push(copy);
        return false;
      }
      const more = this.sink(chunk);
      // Node asks for the next read's buffer right after this callback. A socket that pauses with its buffer lent
      // reads next only once resumed (a client that stopped reading: maybe never): that read goes to the shared
      // buffer, and one that fills it brings a buffer of its own back, instead of a fresh one sitting idle meanwhile.
      // The lent buffer is its holders' now: forgotten here too, or a copied read's held() would give it back early.
      if (!more && this.lent) {
        this.large = false;
        this.own = undefined;
      }
      return more;
    },
  };

  /**
   * Starts handing reads to `write`, first those that came before. `write` returns false to pause the socket (resume
   * it to go on) and marks the buffer as held with `held()` when its writer has not sent the chunk yet.
   */
  attach(write: (chunk: Buffer) => boolean): Buffer[] {
    const early = this.early;
    this.early = [];
    if (this.readable) {
      // What the 'data' readers (pushInto) left unread comes first.
      for (let chunk: Buffer | null; (chunk = this.readable.read() as Buffer | null) !== null; ) early.push(chunk);
      this.readable = undefined;
    }
    this.sink = write;
    return early;
  }

  /**
   * Until `attach`, hands reads (copied) to `socket`'s own readable side instead of keeping them: its 'data' events,
   * pause() and resume() work as without `onread`, for a reader that comes before the sink (a SOCKS handshake with a
   * proxy on the socket). Call it as soon as the socket is connected, before it can read.
   */
  pushInto(socket: Socket): void {
    this.readable = socket;
  }

  /**
   * The chunk just handed on is still referenced by its writer: the next read must not reuse its buffer. The function
   * returned gives the buffer back for reuse by any connection: call it once, when nothing references any of the
   * chunk's bytes any more (or never: the buffer is then collected as garbage). It does nothing for a copied chunk.
   */
  held(): () => void {
    this.lent = true;
    const buffer = this.own;
    if (buffer === undefined) return () => {};
    return () => {
      if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
    };
  }
}

export function relay(a: Socket, b: Socket, options: RelayOptions, bReads?: DirectReads): Promise<void> {
  // Listeners are inline arrows and module functions: per connection, no closure more than needed.
  return new Promise((resolve) => {
    let closed = 0;
    for (const s of [a, b]) {
      s.once('close', () => {
        // A side that closed before both its directions ended (destroyed from outside: the server closing, a drain's
        // deadline) leaves bytes undelivered: the other side gets a reset, never a silent hang or a FIN that would
        // pass for a complete stream.
        if (!(s.readableEnded && s.writableFinished)) resetBoth(a, b);
        if (++closed === 2) resolve();
      });
      s.on('error', () => resetBoth(a, b));
      if (options.idleTimeoutMs > 0) {
        s.setTimeout(options.idleTimeoutMs);
        s.on('timeout', () => resetBoth(a, b));
      }
    }
    copy(a, b);
    if (bReads) copyDirect(b, bReads, a);
    else copy(b, a);
  });
}

function resetBoth(a: Socket, b: Socket): void {
  resetSocket(a);
  resetSocket(b);
}

/** `from -> to` by 'data' events: `from` pauses while `to` keeps bytes queued (see the bound above). */
function copy(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk) && to.writableLength > 0) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  endOnEnd(from, to);
  from.resume();
}

/** Ends `to` after `from` ends: at once if `from` did already (a paused socket emits 'end' when its FIN comes). */
function endOnEnd(from: Socket, to: Socket): void {
  if (from.readableEnded) to.end();
  else from.once('end', () => to.end());
}

/** `from -> to` for a socket read through DirectReads: what `pipe` does, without its per-chunk machinery. */
function copyDirect(from: Socket, reads: DirectReads, to: Socket): void {
  let waiting = false;
  const write = (chunk: Buffer): boolean => {
    if (to.destroyed) return false;
    const flowing = to.write(chunk);
    if (to.writableLength === 0) return true;
    // Still queued in the writer (partly written, or behind earlier writes): its buffer is not ours to reuse.
    reads.held();
    if (flowing) return true;
    if (!waiting) {
      waiting = true;
      to.once('drain', () => {
        waiting = false;
        from.resume();
      });
    }
    return false;
  };
  let flowing = true;
  for (const chunk of reads.attach(write)) flowing = write(chunk) && flowing;
  endOnEnd(from, to);
  if (flowing) from.resume();
}
