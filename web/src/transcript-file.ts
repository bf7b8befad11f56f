/**
 * A session's record as the inspector exports it ("export JSON") and the import view reads it back: the transcript
 * entries of docs/protocol.md, how the stream ended, and the first bytes of the session after the handshake.
 */
import { z } from 'zod';
import { TranscriptEntrySchema } from '../../shared/protocol/messages.ts';

const HEX = /^([0-9a-f]{2}( [0-9a-f]{2})*)?$/;

export const SessionRecordSchema = z.object({
  /** What was opened: `host:port`, `BIND`, `udp host:port`. */
  target: z.string().max(300),
  entries: z.array(TranscriptEntrySchema).max(10_000),
  /** How the stream failed, if it did; `hop` is 1-based, absent when the bridge itself failed. */
  error: z
    .object({ code: z.string().max(100), message: z.string().max(2000), hop: z.number().int().min(1).optional(), replyCode: z.number().int().min(0).max(255).optional() })
    .nullable(),
  /** The bridge's `opened`: where the stream leads (absent in files exported before this field existed). */
  opened: z.object({ remoteAddress: z.string().max(300), remotePort: z.number().int().min(0).max(65535), at: z.number() }).nullable().optional(),
  /** The first bytes of the session each way after the handshake (at most 64, as hex), with their time. */
  firstData: z
    .object({
      sent: z.object({ hex: z.string().max(200).regex(HEX), at: z.number() }).optional(),
      received: z.object({ hex: z.string().max(200).regex(HEX), at: z.number() }).optional(),
    })
    .optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;
export type SessionError = NonNullable<SessionRecord['error']>;

/** Thrown for a file that is not an exported transcript; `code` is `ERR_BAD_TRANSCRIPT`. */
export class TranscriptFileError extends Error {
  readonly code = 'ERR_BAD_TRANSCRIPT';
}

/** Parses an exported transcript, or throws a `TranscriptFileError` that says what is wrong. */
export function parseSessionRecord(text: string): SessionRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TranscriptFileError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = SessionRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TranscriptFileError(`not a wsocks transcript: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}
