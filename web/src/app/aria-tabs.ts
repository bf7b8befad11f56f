/**
 * The WAI-ARIA tab pattern's keyboard part for a `tablist`: Left/Right arrows move to the previous/next tab (wrapping),
 * Home/End to the first/last, and the tab moved to is activated at once. Only the selected tab is in the Tab order
 * (roving tabindex), so Tab moves from the tab list into the selected panel.
 */
export function wireTabKeys(tablist: HTMLElement, activate: (tab: HTMLElement) => void): void {
  tablist.addEventListener('keydown', (ev) => {
    const tabs = [...tablist.querySelectorAll<HTMLElement>(':scope > [role="tab"]')];
    const at = tabs.indexOf(ev.target as HTMLElement);
    if (at < 0 || tabs.length === 0) return;
    const to = ev.key === 'ArrowRight' ? (at + 1) % tabs.length : ev.key === 'ArrowLeft' ? (at - 1 + tabs.length) % tabs.length : ev.key === 'Home' ? 0 : ev.key === 'End' ? tabs.length - 1 : -1;
    if (to < 0) return;
    ev.preventDefault();
    activate(tabs[to]!);
    tabs[to]!.focus();
  });
}

/** Marks `selected` as the selected tab of its list (aria-selected, roving tabindex). */
export function markSelected(tabs: Iterable<HTMLElement>, selected: HTMLElement | undefined): void {
  for (const t of tabs) {
    t.setAttribute('aria-selected', String(t === selected));
    t.tabIndex = t === selected ? 0 : -1;
  }
}

let ids = 0;
/** A tab list of fixed panels (such as "Byte cards" / "Ladder"), wired with `wireTabKeys`. */
export function staticTabs(label: string, items: Array<{ title: string; panel: HTMLElement }>, document: Document, initial = 0): { list: HTMLElement; select(i: number): void } {
  const base = `tabs-${++ids}`;
  const list = document.createElement('div');
  list.setAttribute('role', 'tablist');
  list.setAttribute('aria-label', label);
  list.className = 'view-tabs';
  const buttons = items.map((item, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = `${base}-tab-${i}`;
    b.setAttribute('role', 'tab');
    b.setAttribute('aria-controls', `${base}-panel-${i}`);
    b.textContent = item.title;
    item.panel.id = `${base}-panel-${i}`;
    item.panel.setAttribute('role', 'tabpanel');
    item.panel.setAttribute('aria-labelledby', b.id);
    b.addEventListener('click', () => select(i));
    list.append(b);
    return b;
  });
  const select = (i: number) => {
    markSelected(buttons, buttons[i]);
    items.forEach((item, k) => (item.panel.hidden = k !== i));
  };
  wireTabKeys(list, (tab) => select(buttons.indexOf(tab as HTMLButtonElement)));
  select(initial);
  return { list, select };
}
