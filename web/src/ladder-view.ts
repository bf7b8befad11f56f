/**
 * The ladder diagram of a session (web/src/ladder-model.ts drawn as accessible HTML): one column per party, one
 * arrow (a button) per step in time order, hop 2's messages inside a block for hop 1's tunnel. Pressing an arrow
 * shows its byte card below the diagram. Replay: Next / Previous (or the keys below) walk through the steps; the
 * steps after the current one are dimmed.
 *
 * Keys, while the focus is in the diagram or its replay buttons: ArrowDown, ArrowRight or N: next step; ArrowUp,
 * ArrowLeft or P: previous step; Home / End: first / last step; Enter or Space on an arrow: show its card.
 */
import { h } from './dom.ts';
import { buildLadder, nestSteps, type Ladder, type LadderNode, type LadderStep } from './ladder-model.ts';
import { localCard, messageCard } from './message-card.ts';
import type { SessionRecord } from './transcript-file.ts';

export const LADDER_KEYS = 'N or ↓ / → next step, P or ↑ / ← previous, Home / End first / last, Enter: the arrow’s card.';

export class LadderView {
  readonly element: HTMLElement;
  private readonly diagram: HTMLElement;
  private readonly card: HTMLElement;
  private readonly position: HTMLElement;
  private record: SessionRecord = { target: '', entries: [], error: null };
  private ladder: Ladder = { columns: [], steps: [] };
  private buttons: HTMLButtonElement[] = [];
  /** The step of the replay, -1 before the first (nothing dimmed, no card). */
  private current = -1;

  constructor() {
    this.diagram = h('div', { class: 'ladder' });
    this.card = h('div', { class: 'ladder-card', 'aria-label': 'the selected step’s card', role: 'region' });
    this.position = h('span', { class: 'replay-position', 'aria-live': 'polite' }, '');
    const bar = h(
      'div',
      { class: 'replay-bar', role: 'toolbar', 'aria-label': 'replay' },
      h('button', { type: 'button', class: 'replay-first', onclick: () => this.go(0, true) }, 'Start'),
      h('button', { type: 'button', class: 'replay-prev', 'aria-keyshortcuts': 'P', onclick: () => this.go(this.current - 1, false) }, '◀ Previous'),
      h('button', { type: 'button', class: 'replay-next', 'aria-keyshortcuts': 'N', onclick: () => this.go(this.current + 1, false) }, 'Next ▶'),
      this.position,
    );
    this.element = h(
      'section',
      { class: 'ladder-view', 'aria-label': 'ladder diagram' },
      h('h3', {}, 'Ladder'),
      h('p', { class: 'keys' }, `Every message of the handshake as an arrow, in time order. Keys: ${LADDER_KEYS}`),
      bar,
      h('div', { class: 'ladder-scroll' }, this.diagram),
      this.card,
    );
    this.element.addEventListener('keydown', (ev) => this.key(ev));
  }

  /** Draws the record (again), keeping the replay's position. */
  update(record: SessionRecord): void {
    this.record = record;
    this.ladder = buildLadder(record);
    const { columns, steps } = this.ladder;
    // Redrawing replaces the arrows: a keyboard user stepping through the replay keeps the focus on the current one.
    const hadFocus = this.diagram.contains(document.activeElement);
    this.buttons = [];
    const lanes = h('div', { class: 'lanes', 'aria-hidden': 'true' }, ...columns.map((c) => h('span', {}, c)));
    this.diagram.style.setProperty('--cols', String(columns.length));
    this.diagram.replaceChildren(lanes, this.list(nestSteps(steps), steps.length));
    if (this.current >= steps.length) this.current = steps.length - 1;
    this.paint(hadFocus);
  }

  /** The arrows as drawn, for tests and for comparing two diagrams. */
  steps(): LadderStep[] {
    return this.ladder.steps;
  }

  private list(nodes: LadderNode[], total: number): HTMLElement {
    const cols = this.ladder.columns.length;
    return h(
      'ol',
      { class: 'steps' },
      ...nodes.map((n) => {
        if ('through' in n) {
          return h(
            'li',
            { class: 'tunnel', 'data-through': String(n.through), style: `--a: 1; --b: ${1 + n.through}` },
            h('span', { class: 'tunnel-label' }, `inside hop ${n.through}’s tunnel`),
            this.list(n.children, total),
          );
        }
        const s = n.step;
        const lo = Math.min(s.from, s.to);
        const hi = Math.max(s.from, s.to);
        const dir = s.from === s.to ? 'self' : s.to > s.from ? 'right' : 'left';
        const button = h(
          'button',
          {
            type: 'button',
            class: `step k-${s.kind} dir-${dir}${s.failed ? ' failed' : ''}`,
            'data-step': String(n.index),
            'data-key': s.key,
            // The visible label first (axe: label-content-name-mismatch), then the whole step in words.
            'aria-label': `${s.label}. Step ${n.index + 1} of ${total}: ${s.description}`,
            style: `grid-column: ${lo + 1} / ${hi + 2}; --span: ${hi - lo + 1}`,
            tabindex: '-1',
            onclick: () => this.go(n.index, false),
          },
          h('span', { class: 'label' }, s.label),
          h('span', { class: 'line', 'aria-hidden': 'true' }),
          // Where a tunnelled message passes a hop that relays it: a dot on that hop's lifeline.
          ...s.tunnel.map((hop) => h('span', { class: 'relay', 'aria-hidden': 'true', style: `left: calc(100% * ${1 + hop - lo + 0.5} / ${hi - lo + 1})` })),
        );
        this.buttons[n.index] = button;
        return h('li', { class: 'row', style: `--cols: ${cols}` }, button);
      }),
    );
  }

  /** Moves the replay to step `i` and shows its card; `focus` moves the focus to its arrow. */
  go(i: number, focus: boolean): void {
    if (this.buttons.length === 0) return;
    this.current = Math.max(0, Math.min(i, this.buttons.length - 1));
    this.paint(focus || this.element.contains(document.activeElement) && (document.activeElement as HTMLElement).classList.contains('step'));
  }

  private paint(focus: boolean): void {
    const n = this.buttons.length;
    this.buttons.forEach((b, i) => {
      b.classList.toggle('future', this.current >= 0 && i > this.current);
      b.classList.toggle('current', i === this.current);
      b.tabIndex = i === Math.max(this.current, 0) ? 0 : -1;
      b.setAttribute('aria-current', i === this.current ? 'step' : 'false');
    });
    this.position.textContent = this.current < 0 ? `${n} steps` : `step ${this.current + 1} of ${n}`;
    const step = this.ladder.steps[this.current];
    this.card.replaceChildren(...(step ? [this.cardFor(step)] : []));
    if (focus) this.buttons[Math.max(this.current, 0)]?.focus();
  }

  private cardFor(step: LadderStep): HTMLElement {
    const entry = step.entry !== undefined ? this.record.entries[step.entry] : undefined;
    if (entry) return entry.direction === 'local' ? localCard(entry) : messageCard(entry);
    return h('article', { class: `card ladder-note k-${step.kind}` }, h('h4', {}, step.label), h('p', {}, step.description));
  }

  private key(ev: KeyboardEvent): void {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || this.card.contains(ev.target as Node)) return;
    const k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const onStep = (ev.target as HTMLElement).classList.contains('step');
    let to: number | undefined;
    if (k === 'n' || (onStep && (k === 'ArrowDown' || k === 'ArrowRight'))) to = this.current + 1;
    else if (k === 'p' || (onStep && (k === 'ArrowUp' || k === 'ArrowLeft'))) to = this.current - 1;
    else if (onStep && k === 'Home') to = 0;
    else if (onStep && k === 'End') to = this.buttons.length - 1;
    if (to === undefined) return;
    ev.preventDefault();
    this.go(to, onStep);
  }
}
