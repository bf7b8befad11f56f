/**
 * Control messages of the wsocks wire protocol (docs/protocol.md), as zod schemas: the single source of their shape
 * for the bridge and the client. They travel as JSON in WebSocket text frames; stream data travels in binary frames.
 */
import { z } from 'zod';

export { PROTOCOL_VERSION, TOKEN_PROTOCOL_PREFIX } from './constants.ts';

export const StreamIdSchema = z.number().int().min(1).max(0xffffffff);
const PortSchema = z.number().int().min(1).max(65535);
const HostSchema = z.string().min(1).max(255);
/** Credit in bytes: how much more the receiver is ready to take. */
const CreditSchema = z.number().int().min(1).max(2 ** 31);

export const HopSchema = z
  .object({
    type: z.enum(['socks4', 'socks4a', 'socks5']),
    host: HostSchema,
    port: PortSchema,
    username: z.string().min(1).max(255).optional(),
    password: z.string().max(255).optional(),
    /**
     * Who resolves the next host name: the proxy (default for socks4a and socks5) or the bridge ("local").
     * Plain socks4 carries addresses only, so the bridge always resolves for it.
     */
    resolve: z.enum(['proxy', 'local']).optional(),
  })
  .strict();
export type Hop = z.infer<typeof HopSchema>;

export const FieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  offset: z.number().int(),
  length: z.number().int(),
  hex: z.string(),
  value: z.union([z.number(), z.string()]),
  meaning: z.string(),
  spec: z.string(),
  /** The field's bytes are withheld: its `hex` (and the entry's) reads `**` for each byte. */
  masked: z.boolean().optional(),
});

/** One step of a handshake: a message written or read on a hop, or a local step (DNS, policy). */
export const TranscriptEntrySchema = z.object({
  /** 1-based hop the message was exchanged with; 0 for a local step. */
  hop: z.number().int().min(0),
  direction: z.enum(['sent', 'received', 'local']),
  /** Message kind (`socks5.greeting`, ...) or local step (`connect`, `resolve`, `policy`). */
  kind: z.string(),
  /** Raw bytes as hex ("05 01 00"); empty for local steps. A masked password's bytes read `**` (never sent back). */
  hex: z.string(),
  fields: z.array(FieldSchema),
  /** Milliseconds since the stream was opened. */
  at: z.number(),
  note: z.string().optional(),
});
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;

export const OpenSchema = z
  .object({
    type: z.literal('open'),
    id: StreamIdSchema,
    /**
     * `connect` (default): a TCP stream to host:port. `bind`: the last hop listens for one incoming connection
     * (host:port, if given, is the peer expected). `udp`: a datagram stream, to host:port if given (connected),
     * else every datagram names its destination.
     */
    command: z.enum(['connect', 'bind', 'udp']).optional(),
    host: HostSchema.optional(),
    port: PortSchema.optional(),
    /** A route named in the bridge's config. */
    route: z.string().min(1).max(100).optional(),
    /** Hops described by the client (only when the bridge allows client chains). */
    via: z.array(HopSchema).min(1).max(8).optional(),
    /** Send transcript messages for this stream's handshake. */
    inspect: z.boolean().optional(),
    /** Initial credit the client grants for data from the target (ignored for udp). */
    window: CreditSchema,
  })
  .strict()
  .refine((m) => m.route === undefined || m.via === undefined, { message: 'give route or via, not both' })
  .refine((m) => (m.host === undefined) === (m.port === undefined), { message: 'give host and port together' })
  .refine((m) => (m.command ?? 'connect') !== 'connect' || m.host !== undefined, { message: 'connect needs host and port' });
export type OpenMessage = z.infer<typeof OpenSchema>;

export const CreditMessageSchema = z.object({ type: z.literal('credit'), id: StreamIdSchema, bytes: CreditSchema }).strict();
export const EndSchema = z.object({ type: z.literal('end'), id: StreamIdSchema }).strict();
export const CloseSchema = z.object({ type: z.literal('close'), id: StreamIdSchema }).strict();

/**
 * Messages the client sends. Discriminated by `type`: a message is checked against its own type's schema only (a
 * `credit`, the commonest, no longer fails through `open`'s first), and an unknown type is named as such.
 */
export const ClientMessageSchema = z.discriminatedUnion('type', [OpenSchema, CreditMessageSchema, EndSchema, CloseSchema]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export const HelloSchema = z
  .object({
    type: z.literal('hello'),
    version: z.literal(1),
    limits: z.object({ maxStreams: z.number().int(), maxMessageBytes: z.number().int(), window: z.number().int() }),
    routes: z.array(z.string()),
    clientChains: z.boolean(),
  })
  .strict();

export const OpenedSchema = z
  .object({
    type: z.literal('opened'),
    id: StreamIdSchema,
    /** The target as the last hop (or the bridge) reached it. */
    remoteAddress: z.string(),
    remotePort: z.number().int(),
    /** Initial credit the bridge grants for data to the target. */
    window: CreditSchema,
  })
  .strict();

/** BIND: the first reply. The last hop listens here; the peer should connect to it. */
export const BoundSchema = z
  .object({ type: z.literal('bound'), id: StreamIdSchema, address: z.string(), port: z.number().int() })
  .strict();

export const ErrorMessageSchema = z
  .object({
    type: z.literal('error'),
    /** Absent for errors about the session as a whole. */
    id: StreamIdSchema.optional(),
    code: z.string(),
    message: z.string(),
    hop: z.number().int().min(1).optional(),
    replyCode: z.number().int().optional(),
  })
  .strict();

/**
 * A datagram the client sent on a UDP stream was not sent: `code` says why (ERR_POLICY_DENIED: its destination is
 * denied, or is not the stream's target; ERR_BAD_TARGET; ERR_CONNECT_FAILED: it could not be resolved or sent).
 * The stream stays open. `dropped` counts the stream's dropped datagrams so far.
 */
export const DroppedSchema = z
  .object({ type: z.literal('dropped'), id: StreamIdSchema, code: z.string(), message: z.string(), dropped: z.number().int().min(1) })
  .strict();

export const TranscriptMessageSchema = z.object({ type: z.literal('transcript'), id: StreamIdSchema, entry: TranscriptEntrySchema }).strict();

/** Messages the bridge sends. */
export const BridgeMessageSchema = z.union([
  HelloSchema,
  OpenedSchema,
  BoundSchema,
  CreditMessageSchema,
  EndSchema,
  CloseSchema,
  ErrorMessageSchema,
  TranscriptMessageSchema,
  DroppedSchema,
]);
export type BridgeMessage = z.infer<typeof BridgeMessageSchema>;
