/**
 * The tab strip of the main area: one tab per session or tool, each a button in a `tablist` and a `tabpanel` with a
 * toolbar and a body (and optionally an aside, such as the inspector). Views build their content and hand it here.
 */
import type { Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';
import { h } from '../dom.ts';
import { markSelected, wireTabKeys } from './aria-tabs.ts';
import type { Inspector } from '../inspector.ts';
import type { Insight } from '../views/insight.ts';

/** What a view hands to the strip to make a tab of. */
export interface TabContent {
  /** From `TabStrip.nextId()`, when the content needs it before the tab exists; else a new one. */
  id?: number;
  title: string;
  toolbar: HTMLElement[];
  body: HTMLElement;
  /** Shown beside the body (the inspector of a session). */
  aside?: HTMLElement;
  /** The toolbar's status line, set with `Tab.setStatus`. */
  status?: HTMLElement;
  /** Buttons that close the tab. */
  closeButton?: HTMLElement;
  terminal?: Terminal;
  fit?: FitAddon;
  inspector?: Inspector;
  /** The byte cards / ladder pair of a session. */
  insight?: Insight;
  /** UDP tabs: the datagrams shown, for tests. */
  datagrams?: Array<{ direction: 'sent' | 'received'; peer: string; text: string }>;
  /** Frees what the content holds (streams, observers); the strip removes the tab's elements itself. */
  dispose?(): void;
}

export interface Tab extends TabContent {
  id: number;
  button: HTMLButtonElement;
  panel: HTMLElement;
  /** The status text as last set (tests read it). */
  statusText: string;
  setStatus(text: string, state: string): void;
}

export class TabStrip {
  readonly bar: HTMLElement;
  readonly panels: HTMLElement;
  readonly tabs: Tab[] = [];
  active: Tab | undefined;
  private next = 1;

  constructor() {
    this.bar = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'sessions and tools' });
    wireTabKeys(this.bar, (button) => {
      const tab = this.tabs.find((t) => t.button === button);
      if (tab) this.select(tab, false);
    });
    this.panels = h('div', { class: 'panels' }, h('p', { class: 'empty' }, 'Open a session: pick a target and a route, then “Open”.'));
  }

  /** Reserves the id of the next tab (for content that names elements after it). */
  nextId(): number {
    return this.next++;
  }

  /** Makes a tab of the content, shows it and returns it. */
  add(content: TabContent, initialStatus = ''): Tab {
    const id = content.id ?? this.nextId();
    this.panels.querySelector('.empty')?.remove();
    const split = content.aside ? h('div', { class: 'split' }, content.body, content.aside) : h('div', { class: 'single' }, content.body);
    const panel = h(
      'section',
      { class: 'panel', role: 'tabpanel', id: `panel-${id}`, 'aria-labelledby': `tab-${id}`, hidden: true },
      h('h2', { class: 'visually-hidden' }, content.title),
      h('div', { class: 'toolbar' }, ...content.toolbar),
      split,
    );
    const button = h(
      'button',
      { type: 'button', role: 'tab', class: 'tab', id: `tab-${id}`, 'aria-controls': `panel-${id}`, title: content.title },
      h('span', { class: 'dot' }),
      ` ${content.title} `,
      h('span', { class: 'x', 'aria-hidden': 'true' }, '×'),
    );
    this.bar.append(button);
    this.panels.append(panel);
    const tab: Tab = {
      ...content,
      id,
      button,
      panel,
      statusText: initialStatus,
      setStatus: (text, state) => {
        tab.statusText = text;
        if (content.status) content.status.textContent = text;
        button.dataset.state = state;
      },
    };
    button.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).classList.contains('x')) return this.close(tab);
      this.select(tab);
    });
    button.addEventListener('keydown', (ev) => {
      if (ev.key === 'Delete') this.close(tab);
    });
    content.closeButton?.addEventListener('click', () => this.close(tab));
    this.tabs.push(tab);
    this.select(tab);
    return tab;
  }

  /** Shows the tab; `focusContent` (default) puts the focus into its terminal, if it has one. */
  select(tab: Tab, focusContent = true): void {
    this.active = tab;
    for (const t of this.tabs) t.panel.hidden = t !== tab;
    markSelected(this.tabs.map((t) => t.button), tab.button);
    requestAnimationFrame(() => {
      if (this.active !== tab) return;
      tab.fit?.fit();
      if (focusContent) tab.terminal?.focus();
    });
  }

  close(tab: Tab): void {
    const i = this.tabs.indexOf(tab);
    if (i < 0) return;
    // Closed from the keyboard (Delete on its tab): the focus goes to the tab shown next, not to the page's start.
    const hadFocus = tab.button.contains(document.activeElement);
    this.tabs.splice(i, 1);
    tab.dispose?.();
    tab.button.remove();
    tab.panel.remove();
    if (this.active === tab) {
      this.active = undefined;
      const next = this.tabs[Math.min(i, this.tabs.length - 1)];
      if (next) this.select(next, !hadFocus);
      if (next && hadFocus) next.button.focus();
    }
  }
}
