/** The sidebar's form that opens a session: what (CONNECT, UDP ASSOCIATE, BIND), the target, the route, the chain. */
import type { Hop, OpenOptions, Session } from '../../client/index.ts';
import type { DemoConfig } from '../app/config.ts';
import { h } from '../dom.ts';

/** The form's value: what to open, where, and how. */
export interface OpenRequest {
  kind: 'tcp' | 'udp' | 'bind';
  host: string;
  port: number;
  /** The route (named, or hops) and inspection, as `session.open()` takes them. */
  options: OpenOptions;
  mode: 'line' | 'raw';
  label: string;
}

const CUSTOM = '(custom chain)';

export function buildForm(config: DemoConfig, session: Session): HTMLFormElement {
  const kind = h(
    'select',
    { name: 'kind', id: 'kind' },
    h('option', { value: 'tcp' }, 'TCP stream (CONNECT)'),
    h('option', { value: 'udp' }, 'UDP datagrams (UDP ASSOCIATE)'),
    h('option', { value: 'bind' }, 'incoming connection (BIND)'),
  );
  const presetList = () => (kind.value === 'udp' ? config.udpTargets : config.targets);
  const preset = h('select', { name: 'preset', id: 'preset' });
  const fillPresets = () => {
    preset.replaceChildren(h('option', { value: '' }, '(type a target)'), ...presetList().map((t, i) => h('option', { value: String(i) }, `${t.name}: ${t.about}`)));
  };
  fillPresets();
  const host = h('input', { name: 'host', id: 'host', required: true, value: config.targets[0]?.host ?? '127.0.0.1', autocomplete: 'off' });
  const port = h('input', { name: 'port', id: 'port', type: 'number', min: '1', max: '65535', required: true, value: String(config.targets[0]?.port ?? 7) });
  const mode = h('select', { name: 'mode', id: 'mode' }, h('option', { value: 'line' }, 'line mode (local echo, send on Enter)'), h('option', { value: 'raw' }, 'raw mode (every key is sent)'));
  const routes = config.routes.filter((r) => r.name === '' || session.info!.routes.includes(r.name));
  const route = h('select', { name: 'route', id: 'route' }, ...routes.map((r) => h('option', { value: r.name }, r.label)), session.info!.clientChains ? h('option', { value: CUSTOM }, 'custom chain, hop by hop…') : null);
  const hops = h('div', { class: 'hops' });
  const chain = h(
    'fieldset',
    { class: 'chain', hidden: true },
    h('legend', {}, 'Chain'),
    hops,
    h('button', { type: 'button', onclick: () => hops.append(hopRow(config.proxies[0])) }, 'add hop'),
  );
  hops.append(hopRow(config.proxies[0]));
  route.addEventListener('change', () => (chain.hidden = route.value !== CUSTOM));
  const applyPreset = () => {
    const t = presetList()[Number(preset.value)];
    if (!t || preset.value === '') return;
    host.value = t.host;
    port.value = String(t.port);
    if ('mode' in t) mode.value = (t as { mode: string }).mode;
  };
  preset.addEventListener('change', applyPreset);
  const targetFields = h('div', { class: 'target-fields' });
  kind.addEventListener('change', () => {
    fillPresets();
    if (presetList().length) {
      preset.value = '0';
      applyPreset();
    }
    targetFields.hidden = kind.value === 'bind';
    if (kind.value !== 'tcp' && route.value === 'two-hop') route.value = 'one-hop';
  });
  const twoHop = routes.find((r) => r.name === 'two-hop');
  if (twoHop) route.value = 'two-hop';
  if (config.targets[0]) preset.value = '0';
  targetFields.append(label('Preset target', preset), h('div', { class: 'row' }, label('Host', host), label('Port', port)));
  return h(
    'form',
    { class: 'open-form', 'aria-label': 'open a session' },
    label('What', kind),
    targetFields,
    label('Route', route),
    chain,
    label('Terminal', mode),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'inspect', checked: true }), ' inspect the handshake'),
    h('button', { type: 'submit', class: 'primary' }, 'Open'),
    config.proxies.length ? h('details', { class: 'about' }, h('summary', {}, 'Demo proxies'), h('ul', {}, ...config.proxies.map((p) => h('li', {}, `${p.name}: ${p.host}:${p.port}`)))) : null,
  ) as HTMLFormElement;
}

function label(text: string, control: HTMLElement): HTMLElement {
  return h('label', {}, h('span', {}, text), control);
}

function hopRow(proxy?: { host: string; port: number }): HTMLElement {
  const row: HTMLElement = h(
    'div',
    { class: 'hop-row' },
    h('select', { 'aria-label': 'proxy type', 'data-k': 'type' }, ...['socks5', 'socks4a', 'socks4'].map((t) => h('option', { value: t }, t))),
    h('input', { 'aria-label': 'proxy host', 'data-k': 'host', value: proxy?.host ?? '127.0.0.1' }),
    h('input', { 'aria-label': 'proxy port', 'data-k': 'port', type: 'number', value: String(proxy?.port ?? 1080) }),
    h('input', { 'aria-label': 'username', 'data-k': 'username', placeholder: 'user' }),
    h('input', { 'aria-label': 'password', 'data-k': 'password', placeholder: 'password', type: 'password' }),
    h('button', { type: 'button', 'aria-label': 'remove hop', onclick: () => row.remove() }, '×'),
  );
  return row;
}

export function readForm(form: HTMLFormElement): OpenRequest {
  const get = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value;
  const route = get('route');
  let via: Hop[] | undefined;
  if (route === CUSTOM) {
    via = [...form.querySelectorAll('.hop-row')].map((row) => {
      const v = (k: string) => (row.querySelector(`[data-k="${k}"]`) as HTMLInputElement).value;
      return {
        type: v('type') as Hop['type'],
        host: v('host'),
        port: Number(v('port')),
        ...(v('username') ? { username: v('username'), password: v('password') } : {}),
      };
    });
  }
  const routeLabel = route === CUSTOM ? `${via?.length ?? 0}-hop chain` : route || 'direct';
  const preset = form.elements.namedItem('preset') as HTMLSelectElement;
  const name = preset.value !== '' && preset.selectedOptions[0] ? preset.selectedOptions[0].text.split(':')[0] : `${get('host')}:${get('port')}`;
  return {
    host: get('host'),
    port: Number(get('port')),
    options: {
      ...(route !== CUSTOM && route !== '' ? { route } : {}),
      ...(via ? { via } : {}),
      inspect: (form.elements.namedItem('inspect') as HTMLInputElement).checked,
    },
    mode: get('mode') as 'line' | 'raw',
    kind: get('kind') as OpenRequest['kind'],
    label: get('kind') === 'bind' ? `BIND via ${routeLabel}` : `${get('kind') === 'udp' && !/^udp/i.test(name ?? '') ? 'UDP ' : ''}${name} via ${routeLabel}`,
  };
}
