/**
 * The IPC messages between the bench and its loopback process (bench/loopback-child.ts), which runs the sources and
 * sinks of the single-stream and many-stream cases outside the bench's own process. Requests carry an `id` that the
 * reply repeats; `ended` is sent unasked, once for every connection a sink saw end.
 */
import { z } from 'zod';

const id = z.number().int().nonnegative();

export const LoopbackRequest = z.discriminatedUnion('type', [
  /** Start a source sending `bytes` per connection (holding it open after them with `hold`); replies `listening`. */
  z.object({ type: z.literal('source'), id, bytes: z.number().int().nonnegative(), hold: z.boolean() }),
  /** Start a silent target (accepts connections, keeps them open, sends nothing); replies `listening`. */
  z.object({ type: z.literal('silent'), id }),
  /** Start a sink; replies `listening`, then sends `ended` for each connection. */
  z.object({ type: z.literal('sink'), id }),
  /** Reply `reached` once sink `server`'s current connection has received `n` bytes. */
  z.object({ type: z.literal('reached'), id, server: id, n: z.number().int().nonnegative() }),
  /** Stop `server` (a source or sink stops listening; a silent target also drops its connections); replies `closed`. */
  z.object({ type: z.literal('close'), id, server: id }),
]);
export type LoopbackRequest = z.infer<typeof LoopbackRequest>;

export const LoopbackReply = z.discriminatedUnion('type', [
  /** Server `id` (the request's id names the server from now on) listens on 127.0.0.1:`port`. */
  z.object({ type: z.literal('listening'), id, port: z.number().int().min(1).max(65535) }),
  z.object({ type: z.literal('reached'), id }),
  z.object({ type: z.literal('closed'), id }),
  /** A connection to sink `server` ended after `bytes` bytes. */
  z.object({ type: z.literal('ended'), server: id, bytes: z.number().int().nonnegative() }),
  /** Request `id` was refused (unknown server, bad message). */
  z.object({ type: z.literal('error'), id: id.optional(), message: z.string() }),
]);
export type LoopbackReply = z.infer<typeof LoopbackReply>;
