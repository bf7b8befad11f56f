/** Closing a TCP socket with an RST, safely. */
import type { Socket } from 'node:net';

/** A net.Socket, or a stream that stands for one (server/gssapi/protected-stream.ts). */
export type ResettableSocket = Pick<Socket, 'destroyed' | 'writableEnded' | 'writableLength' | 'writableFinished' | 'destroy' | 'resetAndDestroy'>;

/**
 * Closes `socket` with an RST (SO_LINGER 0), so that its peer cannot take the end for a complete stream.
 *
 * libuv refuses a reset while a shutdown (our FIN, from `end()`) is under way (`uv_tcp_close_reset`: EINVAL), and
 * Node 20's `resetAndDestroy()` then emits that error and never closes the handle: no 'close' event, and the file
 * descriptor stays open for good. In that state (ended, nothing left to write, 'finish' not yet come) the socket is
 * destroyed plainly instead: its FIN is already on its way with every byte before it, and the kernel still answers
 * with an RST if bytes it has not read remain.
 */
export function resetSocket(socket: ResettableSocket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded && socket.writableLength === 0 && !socket.writableFinished) socket.destroy();
  else socket.resetAndDestroy();
}
