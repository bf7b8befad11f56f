import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

/** Keeps a stream's transcript entries and tells listeners about new ones. */
export class TranscriptLog {
  /** Every transcript entry so far (with `inspect: true`). */
  readonly transcript: TranscriptEntry[] = [];
  private readonly listeners = new Set<(entry: TranscriptEntry) => void>();

  /** Listens for transcript entries as they arrive; returns a function that stops listening. */
  onTranscript(listener: (entry: TranscriptEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  handleTranscript(entry: TranscriptEntry): void {
    this.transcript.push(entry);
    for (const l of this.listeners) l(entry);
  }
}
