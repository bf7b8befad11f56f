/**
 * Who still holds the bytes of one read from a target (server/net/relay.ts's DirectReads): the stream while it keeps
 * some for lack of credit, and every message not yet written to the client's socket that carries some. The last
 * holder to let go gives the read buffer back for another read, so that a fast download reuses a few buffers
 * instead of allocating one per read (and making the garbage collector run every few dozen MiB). A holder that never
 * lets go (a session that is gone) only costs the reuse: the buffer is then collected as garbage.
 */
export class ReadLease {
  /** The reader's own hold, handed to the stream that receives the chunk. */
  private holders = 1;

  constructor(private readonly giveBack: () => void) {}

  /** One more holder (a message that carries some of the bytes). */
  hold(): void {
    this.holders++;
  }

  /** A holder is done with the bytes: the last one gives the buffer back. */
  drop(): void {
    if (--this.holders === 0) this.giveBack();
  }
}
