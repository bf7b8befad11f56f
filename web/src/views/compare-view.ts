/**
 * Compare: one CONNECT (host and port from a form) as SOCKS4, SOCKS4a and SOCKS5, side by side, byte for byte,
 * from the shared encoders; the table aligns the fields by what they are for, so the differences stand out (SOCKS5
 * puts the port last and says how the address is written; SOCKS4a marks a name with 0.0.0.1 and puts it last).
 */
import type { ToolView } from '../app/views.ts';
import { h } from '../dom.ts';
import { compareConnect, type EncodedColumn } from '../compare-model.ts';
import { fieldView } from '../message-card.ts';

export const compareView: ToolView = {
  id: 'compare',
  label: 'Compare SOCKS4 / 4a / 5',
  about: 'The same CONNECT in the three versions, byte for byte.',
  create() {
    const host = h('input', { id: 'cmp-host', value: 'example.com', autocomplete: 'off' });
    const port = h('input', { id: 'cmp-port', type: 'number', min: '0', max: '65535', value: '80' });
    const user = h('input', { id: 'cmp-user', value: '', placeholder: 'user id (SOCKS4/4a)', autocomplete: 'off' });
    const out = h('div', { class: 'compare-out', 'aria-live': 'polite' });
    const render = () => {
      const { columns, rows } = compareConnect(host.value.trim(), Number(port.value), user.value);
      const table = h(
        'table',
        { class: 'compare-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'field'), ...columns.map((c) => h('th', { scope: 'col' }, c.encoding)))),
        h(
          'tbody',
          {},
          ...rows.map((r) =>
            h(
              'tr',
              { 'data-role': r.role },
              h('th', { scope: 'row' }, r.role),
              ...r.cells.map((f) =>
                f
                  ? h('td', {}, h('code', { class: 'cmp-hex' }, f.hex), ' ', h('span', { class: 'cmp-label' }, f.label), h('div', { class: 'cmp-meaning' }, `@${f.offset}: ${typeof f.value === 'number' ? f.value : f.value}`))
                  : h('td', { class: 'cmp-none' }, '—'),
              ),
            ),
          ),
        ),
      );
      out.replaceChildren(h('div', { class: 'compare-columns' }, ...columns.map(columnBox)), h('h3', {}, 'Aligned by field'), h('div', { class: 'fields-box', tabindex: '0', role: 'region', 'aria-label': 'aligned fields' }, table));
    };
    for (const el of [host, port, user]) el.addEventListener('input', render);
    render();
    const body = h(
      'div',
      { class: 'compare-view' },
      h('h2', {}, 'One CONNECT, three versions'),
      h('p', {}, 'The request a client sends to have the proxy connect to host:port, encoded by the same code the bridge uses. Change the host to an IPv4 address to see plain SOCKS4 work, or to a name to see why SOCKS4a exists.'),
      h('div', { class: 'lab-form' }, h('label', { for: 'cmp-host' }, 'Host'), host, h('label', { for: 'cmp-port' }, 'Port'), port, h('label', { for: 'cmp-user' }, 'User id'), user),
      out,
    );
    const closeButton = h('button', { type: 'button' }, 'close');
    return { title: 'Compare', toolbar: [h('span', { class: 'status' }, 'SOCKS4 / 4a / 5 side by side'), closeButton], body, closeButton };
  },
};

function columnBox(c: EncodedColumn): HTMLElement {
  if (c.error) return h('section', { class: 'compare-column', 'data-encoding': c.encoding }, h('h3', {}, c.encoding), h('p', { class: 'cmp-error', role: 'note' }, c.error));
  const view = fieldView(c.fields, c.hex ?? '');
  return h(
    'section',
    { class: 'compare-column', 'data-encoding': c.encoding },
    h('h3', {}, `${c.encoding} `, h('span', { class: 'at' }, `${c.length} bytes`)),
    h('p', { class: 'cmp-before' }, `Before it: ${c.before}.`),
    c.note ? h('p', { class: 'cmp-note' }, `Here: ${c.note}.`) : null,
    view.hex,
    view.table,
  );
}
