/** The page's keys, shown under "Keyboard" in the sidebar (docs/demo-ui.md has the same table). */
import { h } from '../dom.ts';

const KEYS: Array<[string, string]> = [
  ['Escape, then Tab (Shift+Tab)', 'leave a terminal forwards (backwards); Tab alone goes to the program in it'],
  ['← / →, Home / End', 'move between tabs (sessions, tools, Byte cards / Ladder); Tab goes into the panel'],
  ['Delete on a session’s tab', 'close the session'],
  ['N or ↓ / →, P or ↑ / ←', 'next / previous step of a ladder’s replay'],
  ['Home / End on a ladder arrow', 'first / last step; Enter or Space shows its card'],
  ['← / → on a card’s bytes', 'move between the fields’ bytes; Enter goes to the field’s row, Enter or Escape back'],
];

export function keysHelp(): HTMLElement {
  return h(
    'details',
    { class: 'keys-help' },
    h('summary', {}, 'Keyboard'),
    h('dl', {}, ...KEYS.flatMap(([keys, what]) => [h('dt', {}, keys), h('dd', {}, what)])),
  );
}
