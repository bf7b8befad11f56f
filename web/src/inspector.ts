/**
 * The handshake inspector: every transcript entry of a stream as a card, hop by hop. A message shows its bytes as
 * a hex dump whose fields are coloured spans, and beside it each field's name, value and meaning; hovering a field
 * lights up its bytes and the reverse. Local steps (resolve, policy, connect) are small cards; a failure is
 * explained in words. After the handshake, the session's first bytes in each direction are shown as hex.
 */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import type { SessionError, SessionRecord } from './transcript-file.ts';
import { h } from './dom.ts';
import { fromHex, toHex } from '../../shared/socks/address.ts';
import { explainFailure, replyCodeAdvice, replyCodeText } from './explain.ts';
import { localCard, messageCard, specLink } from './message-card.ts';
import { transcriptToPcapng } from './capture-export.ts';
import { revealOwnPassword } from './transcript-bytes.ts';
import type { Hop } from '../../shared/protocol/messages.ts';

const DATA_CAP = 4096;

export class Inspector {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly entries: TranscriptEntry[] = [];
  private readonly data = { sent: [] as number[], received: [] as number[] };
  private readonly dataViews: Record<'sent' | 'received', HTMLElement>;
  private error: SessionError | undefined;
  private opened: NonNullable<SessionRecord['opened']> | undefined;
  private readonly firstData: NonNullable<SessionRecord['firstData']> = {};
  private readonly listeners = new Set<() => void>();
  private readonly started = performance.now();
  /** Wall-clock time of the open, for the capture's timestamps. */
  private readonly startedAtMs = Date.now();
  private dataAt: number | undefined;

  /**
   * `ownHops`: the hops this page described itself (`via`), with the passwords the learner typed; the bridge sends
   * every password masked, and the cards can show these from the page's own memory.
   */
  constructor(
    private readonly target: string,
    private readonly ownHops?: readonly Hop[],
  ) {
    this.list = h('div', { class: 'cards' });
    this.dataViews = { sent: h('pre', { class: 'data' }), received: h('pre', { class: 'data' }) };
    this.element = h(
      'section',
      { class: 'inspector', 'aria-label': 'handshake inspector' },
      h(
        'header',
        {},
        h('h3', {}, 'Handshake'),
        h('button', { type: 'button', onclick: () => this.expandAll(true) }, 'open all'),
        h('button', { type: 'button', onclick: () => this.expandAll(false) }, 'close all'),
        h('button', { type: 'button', class: 'export', onclick: () => this.download() }, 'export JSON'),
        h('button', { type: 'button', class: 'export-pcapng', title: 'a capture for Wireshark: each hop its own TCP conversation', onclick: () => this.downloadPcapng() }, 'export pcapng'),
      ),
      this.list,
      h(
        'details',
        { class: 'data-box' },
        h('summary', {}, 'Session data after the handshake (first 4 KiB each way)'),
        h('h4', {}, 'client → target'),
        this.dataViews.sent,
        h('h4', {}, 'target → client'),
        this.dataViews.received,
      ),
    );
  }

  /** Calls `listener` after every change of the record (`toJSON()`); returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Shows a whole exported record (the import view). */
  load(record: SessionRecord): void {
    for (const e of record.entries) this.add(e);
    if (record.opened) this.markOpened(record.opened.remoteAddress, record.opened.remotePort, record.opened.at);
    for (const dir of ['sent', 'received'] as const) {
      const d = record.firstData?.[dir];
      if (d) this.addData(dir, fromHex(d.hex), d.at);
    }
    if (record.error) this.fail(record.error);
  }

  add(entry: TranscriptEntry): void {
    this.entries.push(entry);
    const own = this.ownHops ? revealOwnPassword(entry, this.ownHops) : undefined;
    const card = entry.direction === 'local' ? localCard(entry) : messageCard(entry, { own: own !== entry ? own : undefined });
    // Datagrams can be many: their cards start closed.
    if (entry.kind === 'udp.datagram') card.querySelector('details')?.removeAttribute('open');
    this.list.append(card);
    this.changed();
  }

  /** The bridge's `opened`: the handshake is over and the stream leads to this address. */
  markOpened(remoteAddress: string, remotePort: number, at = performance.now() - this.started): void {
    this.opened = { remoteAddress, remotePort, at };
    this.changed();
  }

  fail(error: SessionError): void {
    this.error = { code: error.code, message: error.message, ...(error.hop ? { hop: error.hop } : {}), ...(error.replyCode !== undefined ? { replyCode: error.replyCode } : {}) };
    const where = error.hop ? `at hop ${error.hop}` : 'at the bridge';
    const why = error.hop ? explainFailure(this.entries, error.hop) : undefined;
    const card = h(
        'article',
        { class: 'card failure', role: 'alert' },
        h('h4', {}, `Failed ${where}: ${error.code}`),
        error.replyCode !== undefined ? h('p', { class: 'reply-code' }, replyCodeText(error.replyCode)) : null,
        why ? h('p', { class: 'failed-byte' }, 'The byte: ', h('code', {}, why.byte)) : null,
        why ? h('p', { class: 'rule' }, 'The rule: ', why.rule, ' ', specLink(why.spec)) : null,
        why ? h('p', { class: 'advice' }, why.advice) : error.replyCode !== undefined ? h('p', { class: 'advice' }, replyCodeAdvice(error.replyCode)) : null,
        h('p', { class: 'detail' }, error.message),
      );
    // The failure is what the learner came for: put it first, above the messages that led to it.
    this.list.prepend(card);
    this.changed();
  }

  /**
   * One UDP datagram's payload, for the session's first data. Its card, with the header as it travelled, comes from
   * the bridge's transcript (`udp.datagram` entries: captured, not rebuilt here).
   */
  addDatagram(direction: 'sent' | 'received', payload: Uint8Array): void {
    if (!this.firstData[direction]) {
      this.firstData[direction] = { hex: toHex(payload.subarray(0, 64)), at: performance.now() - this.started };
      queueMicrotask(() => this.changed());
    }
  }

  addData(direction: 'sent' | 'received', bytes: Uint8Array, at = performance.now() - this.started): void {
    const kept = this.data[direction];
    if (kept.length >= DATA_CAP) return;
    if (!this.firstData[direction] && bytes.length > 0) {
      this.firstData[direction] = { hex: toHex(bytes.subarray(0, 64)), at };
      queueMicrotask(() => this.changed());
    }
    this.dataAt ??= at;
    for (const b of bytes.subarray(0, DATA_CAP - kept.length)) kept.push(b);
    this.dataViews[direction].textContent = hexDump(kept) + (kept.length >= DATA_CAP ? '\n… (capped)' : '');
  }

  /** The whole record as JSON, as exported (web/src/transcript-file.ts describes it). */
  toJSON(): SessionRecord {
    return { target: this.target, entries: this.entries, error: this.error ?? null, opened: this.opened ?? null, firstData: this.firstData };
  }

  private download(): void {
    save(JSON.stringify(this.toJSON(), null, 2), 'application/json', `wsocks-transcript-${Date.now()}.json`);
  }

  /** The handshake (and the first session bytes) as a pcapng capture: see capture-export.ts. */
  toPcapng(): Uint8Array<ArrayBuffer> {
    return transcriptToPcapng({
      entries: this.entries,
      startedAtMs: this.startedAtMs,
      title: this.target,
      data: { sent: Uint8Array.from(this.data.sent), received: Uint8Array.from(this.data.received), ...(this.dataAt !== undefined ? { at: this.dataAt } : {}) },
    });
  }

  private downloadPcapng(): void {
    save(this.toPcapng(), 'application/vnd.tcpdump.pcap', `wsocks-handshake-${Date.now()}.pcapng`);
  }

  private expandAll(open: boolean): void {
    for (const d of this.list.querySelectorAll('details')) (d as HTMLDetailsElement).open = open;
  }
}

function save(text: string | Uint8Array<ArrayBuffer>, type: string, name: string): void {
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  a.click();
  URL.revokeObjectURL(a.href);
}

function hexDump(bytes: number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.slice(i, i + 16);
    const hex = row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47);
    const text = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(4, '0')}  ${hex}  ${text}`);
  }
  return lines.join('\n');
}
