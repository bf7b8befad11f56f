/**
 * Copies bytes both ways between two connected sockets until both directions have ended. Backpressure comes from
 * `pipe` (a full writer pauses its reader); a FIN in one direction is passed on as a FIN and the other direction
 * keeps flowing. A reset on either side is passed on as a reset (never as a FIN, which would pass for a complete
 * stream); another error or the idle timeout resets both.
 */
import type { Socket } from 'node:net';

export interface RelayOptions {
  /** Destroy both sockets after this long with no traffic either way; 0 disables it. */
  idleTimeoutMs: number;
}

export function relay(a: Socket, b: Socket, options: RelayOptions): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve();
    };
    const destroyBoth = () => {
      for (const s of [a, b]) if (!s.destroyed) s.resetAndDestroy();
    };
    for (const s of [a, b]) {
      s.once('close', onClose);
      s.on('error', destroyBoth);
      if (options.idleTimeoutMs > 0) {
        s.setTimeout(options.idleTimeoutMs);
        s.on('timeout', destroyBoth);
      }
    }
    a.pipe(b);
    b.pipe(a);
  });
}
