import type { Session } from '../../client/index.ts';
import type { TabStrip } from './tabs.ts';

/** For browser tests: `window.__wsocks` reads tabs, terminals (through xterm's buffer API, not pixels) and transcripts. */
export function exposeTestHooks(session: Session, strip: TabStrip): void {
  const find = (id: number) => strip.tabs.find((x) => x.id === id);
  (window as unknown as { __wsocks: unknown }).__wsocks = {
    session,
    tabs: () => strip.tabs.map((t) => ({ id: t.id, title: t.title, status: t.statusText })),
    datagrams: (id: number) => find(id)?.datagrams ?? null,
    terminalText: (id: number) => {
      const t = find(id);
      if (!t?.terminal) return null;
      const buf = t.terminal.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) {
        const line = buf.getLine(i);
        const text = line?.translateToString(true) ?? '';
        // A wrapped row continues the line above it.
        if (line?.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
        else lines.push(text);
      }
      return lines.join('\n').trimEnd();
    },
    transcript: (id: number) => find(id)?.inspector?.toJSON() ?? null,
    /** The ladder's steps as drawn (kind, columns, label, tunnel, key). */
    ladder: (id: number) => find(id)?.insight?.ladder.steps() ?? null,
  };
}
