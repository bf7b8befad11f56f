/**
 * Links a field's bytes in a hex dump with its row in the field table, for the mouse and the keyboard: hovering or
 * focusing either lights up both. The byte spans of a dump are one Tab stop (Left/Right/Home/End move between them);
 * Enter on a span moves the focus to its row, Enter or Escape on a row moves it back to the span.
 */
let ids = 0;

export function linkField(span: HTMLElement, row: HTMLElement, label: string): void {
  const id = `field-row-${++ids}`;
  row.id = id;
  row.tabIndex = -1;
  span.setAttribute('role', 'button');
  span.setAttribute('aria-label', `${label}: ${span.textContent ?? ''}`);
  span.setAttribute('aria-describedby', id);
  span.tabIndex = -1;
  const light = (on: boolean) => {
    span.classList.toggle('hl', on);
    row.classList.toggle('hl', on);
  };
  for (const el of [span, row]) {
    el.addEventListener('mouseenter', () => light(true));
    el.addEventListener('mouseleave', () => light(false));
    el.addEventListener('focus', () => light(true));
    el.addEventListener('blur', () => light(false));
  }
  span.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    row.focus();
  });
  span.addEventListener('click', () => row.focus());
  row.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== 'Escape') return;
    ev.preventDefault();
    span.focus();
  });
}

/** Makes the field spans of one hex dump a single Tab stop with arrow keys between them. */
export function rovingSpans(hex: HTMLElement): void {
  const spans = () => [...hex.querySelectorAll<HTMLElement>('[role="button"]')];
  const first = spans()[0];
  if (first) first.tabIndex = 0;
  hex.addEventListener('keydown', (ev) => {
    const all = spans();
    const at = all.indexOf(ev.target as HTMLElement);
    if (at < 0) return;
    const to = ev.key === 'ArrowRight' ? at + 1 : ev.key === 'ArrowLeft' ? at - 1 : ev.key === 'Home' ? 0 : ev.key === 'End' ? all.length - 1 : -2;
    if (to === -2) return;
    ev.preventDefault();
    const next = all[Math.max(0, Math.min(to, all.length - 1))]!;
    for (const s of all) s.tabIndex = s === next ? 0 : -1;
    next.focus();
  });
}
