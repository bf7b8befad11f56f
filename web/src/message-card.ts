/** The byte card of one transcript entry, as the inspector and the ladder show it. */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import { h } from './dom.ts';
import { STEPS } from './explain.ts';
import { linkField, rovingSpans } from './field-links.ts';

/** A local step (resolve, policy, connect, bound) as a small card. */
export function localCard(e: TranscriptEntry): HTMLElement {
  return h('article', { class: 'card local' }, h('span', { class: 'tag' }, e.kind), ` ${e.note ?? ''}`, h('span', { class: 'at' }, ` +${e.at.toFixed(1)} ms`));
}

/** A handshake message as a card: its bytes as coloured field spans, and a table of the fields. */
export function messageCard(e: TranscriptEntry): HTMLElement {
  const step = STEPS[e.kind];
  const arrow =
    e.hop === 0 ? (e.direction === 'sent' ? 'browser → network' : 'network → browser') : e.direction === 'sent' ? `bridge → hop ${e.hop}` : `hop ${e.hop} → bridge`;
  const tunnel = e.hop > 1 ? ` (inside the tunnel through hop${e.hop > 2 ? `s 1–${e.hop - 1}` : ' 1'})` : '';
  const spans: HTMLElement[] = [];
  const rows: HTMLElement[] = [];
  e.fields.forEach((f, i) => {
    const colour = `field-c${i % 8}`;
    const span = h('span', { class: `bytes ${colour}`, 'data-field': String(i), title: `${f.label}: ${f.meaning}` }, f.hex);
    const row = h(
      'tr',
      { class: colour, 'data-field': String(i) },
      h('td', { class: 'label' }, f.label),
      h('td', { class: 'name' }, f.name),
      h('td', { class: 'num' }, String(f.offset)),
      h('td', { class: 'value' }, typeof f.value === 'number' ? `${f.value} (0x${f.value.toString(16).padStart(f.length * 2, '0')})` : f.value),
      h('td', { class: 'meaning' }, f.meaning),
    );
    linkField(span, row, f.label);
    spans.push(span, h('span', {}, ' '));
    rows.push(row);
  });
  const hex = h('div', { class: 'hex', role: 'group', 'aria-label': 'bytes (Left/Right between fields, Enter: the field’s row)' }, ...spans);
  rovingSpans(hex);
  const copy = h('button', { type: 'button', class: 'copy', onclick: () => void navigator.clipboard?.writeText(e.hex) }, 'copy hex');
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
        h('span', { class: 'spec' }, ` ${step?.spec ?? ''}`),
        h('span', { class: 'at' }, ` +${e.at.toFixed(1)} ms`),
      ),
      step?.text ? h('p', { class: 'explain' }, step.text) : null,
      hex,
      copy,
      h(
        'div',
        { class: 'fields-box', tabindex: '0', role: 'region', 'aria-label': 'fields' },
        h('table', { class: 'fields' }, h('thead', {}, h('tr', {}, ...['field', 'name', 'offset', 'value', 'meaning'].map((t) => h('th', {}, t)))), h('tbody', {}, ...rows)),
      ),
    ),
  );
}
