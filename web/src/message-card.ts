/** The byte card of one transcript entry, as the inspector and the ladder show it. */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import { h } from './dom.ts';
import type { Field } from '../../shared/socks/reader.ts';
import { STEPS } from './explain.ts';
import { fieldParagraph, isOwnName, specUrl } from './field-docs.ts';
import { hasMasked } from './transcript-bytes.ts';
import { linkField, rovingSpans } from './field-links.ts';

/** A local step (resolve, policy, connect, bound) as a small card. */
export function localCard(e: TranscriptEntry): HTMLElement {
  return h('article', { class: 'card local' }, h('span', { class: 'tag' }, e.kind), ` ${e.note ?? ''}`, h('span', { class: 'at' }, ` +${e.at.toFixed(1)} ms`));
}

/** Options of a message card. */
export interface MessageCardOptions {
  /**
   * The same entry with the learner's own password put back (transcript-bytes.ts `revealOwnPassword`), when this
   * page has it: the card then offers a switch between masked and real bytes. Without it a masked password stays
   * masked (it came from the bridge's config, or the page does not have it).
   */
  own?: TranscriptEntry | undefined;
}

/** A handshake message as a card: its bytes as coloured field spans, and a table of the fields. */
export function messageCard(e: TranscriptEntry, options: MessageCardOptions = {}): HTMLElement {
  const step = STEPS[e.kind];
  const arrow =
    e.hop === 0 ? (e.direction === 'sent' ? 'browser → network' : 'network → browser') : e.direction === 'sent' ? `bridge → hop ${e.hop}` : `hop ${e.hop} → bridge`;
  const tunnel = e.hop > 1 ? ` (inside the tunnel through hop${e.hop > 2 ? `s 1–${e.hop - 1}` : ' 1'})` : '';
  const body = h('div', { class: 'card-bytes' });
  let shown = e;
  const render = () => {
    const view = fieldView(shown.fields, shown.hex);
    body.replaceChildren(view.hex, copyButton(shown), view.table);
  };
  render();
  const masked = hasMasked(e);
  const own = options.own && !hasMasked(options.own) ? options.own : undefined;
  let passwordSwitch: HTMLElement | null = null;
  if (masked) {
    const toggle = h('input', { type: 'checkbox', role: 'switch', class: 'reveal', 'aria-checked': 'false', disabled: !own });
    toggle.addEventListener('change', () => {
      shown = toggle.checked && own ? own : e;
      toggle.setAttribute('aria-checked', String(toggle.checked));
      render();
    });
    passwordSwitch = h(
      'label',
      { class: 'password-switch' },
      toggle,
      own
        ? ' show my password’s real bytes (you typed it; this page kept it, the bridge never sent it back)'
        : ' password masked: the bridge never sends a password back, and one from the bridge’s config never reaches this page',
    );
  }
  return h(
    'article',
    { class: `card message ${e.direction}`, 'data-kind': e.kind, 'data-hop': String(e.hop) },
    h(
      'details',
      { open: true },
      h(
        'summary',
        {},
        h('span', { class: 'hop' }, e.hop === 0 ? 'UDP' : `hop ${e.hop}`),
        ` ${arrow}${tunnel}: `,
        h('strong', {}, step?.title ?? e.kind),
        h('span', { class: 'at' }, ` +${e.at.toFixed(1)} ms`),
      ),
      // The spec link sits under the summary, not in it: a link inside <summary> is a nested control (axe).
      step?.spec ? h('p', { class: 'spec-line' }, specLink(step.spec)) : null,
      step?.text ? h('p', { class: 'explain' }, step.text) : null,
      passwordSwitch,
      body,
    ),
  );
}

function copyButton(e: Pick<TranscriptEntry, 'hex'>): HTMLElement {
  return h('button', { type: 'button', class: 'copy', onclick: () => void navigator.clipboard?.writeText(e.hex) }, 'copy hex');
}

/** A link to the text a spec names (`RFC 1928 §6` -> the RFC's section 6), or the spec as plain text. */
export function specLink(spec: string): HTMLElement {
  const url = specUrl(spec);
  return url ? h('a', { class: 'spec', href: url, target: '_blank', rel: 'noopener' }, spec) : h('span', { class: 'spec' }, spec);
}

/** Where a byte lab or a failure points: the byte at `offset` is marked, with `note` as its explanation. */
export interface ByteMark {
  offset: number;
  note: string;
}

/**
 * The bytes of a message as coloured field spans, and the table of its fields: label, name (Wireshark's, or marked
 * as this project's own), offset, value, meaning, and under each row the paragraph on why the field exists and what
 * other values would mean, with the link to its RFC section. Hovering a span or a row lights up both.
 * `extra` bytes (as hex tokens) after the last field are shown unexplained; `mark` flags one byte.
 */
export function fieldView(fields: readonly Field[], hex: string, mark?: ByteMark): { hex: HTMLElement; table: HTMLElement } {
  const spans: HTMLElement[] = [];
  const rows: HTMLElement[] = [];
  const tokens = hex.split(' ').filter(Boolean);
  let covered = 0;
  fields.forEach((f, i) => {
    const colour = `field-c${i % 8}`;
    const marked = mark !== undefined && mark.offset >= f.offset && mark.offset < f.offset + f.length;
    const span = h(
      'span',
      { class: `bytes ${colour}${f.masked ? ' masked' : ''}${marked ? ' rejected' : ''}`, 'data-field': String(i), title: `${f.label}: ${f.meaning}${f.masked ? ' (masked: not the bytes that were sent)' : ''}` },
      f.hex,
    );
    const own = isOwnName(f.name);
    const paragraph = fieldParagraph(f);
    const row = h(
      'tr',
      { class: `${colour}${marked ? ' rejected' : ''}`, 'data-field': String(i) },
      h('td', { class: 'label' }, f.label),
      h('td', { class: `name${own ? ' own' : ''}`, title: own ? 'this project’s own name: Wireshark’s SOCKS dissector has no field for these bytes' : 'Wireshark’s SOCKS dissector field' }, f.name, own ? h('span', { class: 'own-tag' }, ' (wsocks’ own)') : null),
      h('td', { class: 'num' }, String(f.offset)),
      h('td', { class: 'value' }, typeof f.value === 'number' ? `${f.value} (0x${f.value.toString(16).padStart(f.length * 2, '0')})` : f.value),
      h('td', { class: 'meaning' }, f.meaning, marked && mark ? h('strong', { class: 'mark-note' }, ` ← ${mark.note}`) : null),
    );
    const doc = paragraph
      ? h('tr', { class: 'doc', 'data-field': String(i) }, h('td', { colspan: '5' }, paragraph, ' ', specLink(f.spec)))
      : null;
    linkField(span, row, f.label);
    spans.push(span, h('span', {}, ' '));
    rows.push(row);
    if (doc) rows.push(doc);
    covered = Math.max(covered, f.offset + f.length);
  });
  if (tokens.length > covered) {
    const rest = tokens.slice(covered);
    const marked = mark !== undefined && mark.offset >= covered;
    spans.push(h('span', { class: `bytes unexplained${marked ? ' rejected' : ''}`, title: 'not decoded' }, rest.join(' ')));
    rows.push(
      h('tr', { class: `unexplained${marked ? ' rejected' : ''}` }, h('td', { class: 'label' }, '…'), h('td', { class: 'name' }, ''), h('td', { class: 'num' }, String(covered)), h('td', { class: 'value' }, `${rest.length} bytes`), h('td', { class: 'meaning' }, marked && mark ? mark.note : 'not decoded')),
    );
  }
  const hexBox = h('div', { class: 'hex', role: 'group', 'aria-label': 'bytes (Left/Right between fields, Enter: the field’s row)' }, ...spans);
  rovingSpans(hexBox);
  return {
    hex: hexBox,
    table: h(
      'div',
      { class: 'fields-box', tabindex: '0', role: 'group', 'aria-label': 'fields (scrolls sideways on a narrow screen)' },
      h('table', { class: 'fields' }, h('thead', {}, h('tr', {}, ...['field', 'name', 'offset', 'value', 'meaning'].map((t) => h('th', {}, t)))), h('tbody', {}, ...rows)),
    ),
  };
}
