/** The demo UI: open tunneled TCP sessions in terminals, and inspect each handshake byte by byte. */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { connect, WsocksError, type Hop, type Session, type WsocksSocket } from '../client/index.ts';
import { h } from './dom.ts';
import { Inspector } from './inspector.ts';
import { replyCodeText } from './explain.ts';
import { WsocksAttachAddon } from './terminal-addon.ts';

interface DemoConfig {
  targets: Array<{ name: string; host: string; port: number; mode: 'line' | 'raw'; about: string }>;
  routes: Array<{ name: string; label: string }>;
  proxies: Array<{ name: string; host: string; port: number }>;
}

interface Tab {
  id: number;
  title: string;
  button: HTMLButtonElement;
  panel: HTMLElement;
  terminal: Terminal;
  socket: WsocksSocket;
  inspector: Inspector;
  addon: WsocksAttachAddon | undefined;
  fit: FitAddon;
  status: string;
  dispose(): void;
}

const CUSTOM = '(custom chain)';
const tabs: Tab[] = [];
let active: Tab | undefined;
let nextTab = 1;

async function main(): Promise<void> {
  const app = document.getElementById('app')!;
  const config: DemoConfig = await fetch('/demo/config.json')
    .then((r) => (r.ok ? r.json() : { targets: [], routes: [{ name: '', label: 'direct' }], proxies: [] }))
    .catch(() => ({ targets: [], routes: [{ name: '', label: 'direct' }], proxies: [] }));
  const statusLine = h('p', { class: 'session-status', role: 'status' }, 'connecting to the bridge…');
  let session: Session;
  try {
    session = await connect(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`);
    statusLine.textContent = `bridge: ${session.info!.routes.length} routes, client chains ${session.info!.clientChains ? 'allowed' : 'off'}`;
  } catch (err) {
    statusLine.textContent = `cannot reach the bridge: ${(err as Error).message}`;
    app.append(statusLine);
    return;
  }

  const form = buildForm(config, session, statusLine);
  const tabBar = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'sessions' });
  const panels = h('div', { class: 'panels' }, h('p', { class: 'empty' }, 'Open a session: pick a target and a route, then “Open”.'));
  app.append(h('aside', { class: 'sidebar' }, h('h1', {}, 'wsocks'), h('p', { class: 'tagline' }, 'TCP for the browser, through SOCKS, byte by byte.'), statusLine, form), h('main', {}, tabBar, panels));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = readForm(form);
    openTab(session, data, tabBar, panels);
  });
  session.closed.then(() => (statusLine.textContent = 'the bridge closed the session; reload to reconnect'));
  exposeTestHooks(session);
}

interface FormData {
  host: string;
  port: number;
  route: string;
  via: Hop[] | undefined;
  inspect: boolean;
  mode: 'line' | 'raw';
  label: string;
}

function buildForm(config: DemoConfig, session: Session, _status: HTMLElement): HTMLFormElement {
  const preset = h('select', { name: 'preset', id: 'preset' }, h('option', { value: '' }, '(type a target)'), ...config.targets.map((t, i) => h('option', { value: String(i) }, `${t.name}: ${t.about}`)));
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
  preset.addEventListener('change', () => {
    const t = config.targets[Number(preset.value)];
    if (!t || preset.value === '') return;
    host.value = t.host;
    port.value = String(t.port);
    mode.value = t.mode;
  });
  const twoHop = routes.find((r) => r.name === 'two-hop');
  if (twoHop) route.value = 'two-hop';
  if (config.targets[0]) preset.value = '0';
  return h(
    'form',
    { class: 'open-form', 'aria-label': 'open a session' },
    label('Preset target', preset),
    h('div', { class: 'row' }, label('Host', host), label('Port', port)),
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

function readForm(form: HTMLFormElement): FormData {
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
    route: route === CUSTOM ? '' : route,
    via,
    inspect: (form.elements.namedItem('inspect') as HTMLInputElement).checked,
    mode: get('mode') as 'line' | 'raw',
    label: `${name} via ${routeLabel}`,
  };
}

function openTab(session: Session, data: FormData, tabBar: HTMLElement, panels: HTMLElement): Tab {
  panels.querySelector('.empty')?.remove();
  const id = nextTab++;
  const socket = session.open({ host: data.host, port: data.port }, { ...(data.route ? { route: data.route } : {}), ...(data.via ? { via: data.via } : {}), inspect: data.inspect });
  const inspector = new Inspector(`${data.host}:${data.port}`);
  socket.onTranscript((e) => inspector.add(e));
  const terminal = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000, theme: { background: '#101418' } });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  const termBox = h('div', { class: 'terminal', 'data-tab': String(id) });
  const status = h('span', { class: 'status', role: 'status' }, 'connecting…');
  const modeToggle = h('button', { type: 'button' }, data.mode === 'line' ? 'switch to raw mode' : 'switch to line mode');
  const finButton = h('button', { type: 'button', disabled: true }, 'send FIN (half-close)');
  const closeButton = h('button', { type: 'button' }, 'close');
  const panel = h('section', { class: 'panel', role: 'tabpanel', id: `panel-${id}`, hidden: true }, h('div', { class: 'toolbar' }, status, modeToggle, finButton, closeButton), h('div', { class: 'split' }, termBox, inspector.element));
  const button = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-controls': `panel-${id}`, title: data.label }, h('span', { class: 'dot' }), ` ${data.label} `, h('span', { class: 'x', 'aria-hidden': 'true' }, '×'));
  tabBar.append(button);
  panels.append(panel);
  terminal.open(termBox);
  const observer = new ResizeObserver(() => {
    if (!panel.hidden) fit.fit();
  });
  observer.observe(termBox);

  const tab: Tab = {
    id,
    title: data.label,
    button,
    panel,
    terminal,
    socket,
    inspector,
    addon: undefined,
    fit,
    status: 'connecting',
    dispose: () => {
      observer.disconnect();
      tab.addon?.dispose();
      socket.close();
      terminal.dispose();
      button.remove();
      panel.remove();
    },
  };
  const setStatus = (s: string, kind: string) => {
    tab.status = s;
    status.textContent = s;
    button.dataset.state = kind;
  };
  button.addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).classList.contains('x')) return closeTab(tab);
    select(tab);
  });
  button.addEventListener('keydown', (ev) => {
    if (ev.key === 'Delete') closeTab(tab);
  });
  closeButton.addEventListener('click', () => closeTab(tab));
  tabs.push(tab);
  select(tab);

  socket.opened.then(
    (info) => {
      setStatus(`open: ${info.remoteAddress}:${info.remotePort}`, 'open');
      terminal.writeln(`\x1b[2m[connected to ${data.host}:${data.port} via ${data.label.split(' via ')[1]}]\x1b[0m`);
      const addon = new WsocksAttachAddon(info, {
        lineMode: data.mode === 'line',
        onBytes: (dir, bytes) => inspector.addData(dir, bytes),
        onReadableEnd: (err) => {
          if (!err) {
            terminal.writeln('\r\n\x1b[2m[the target finished sending (FIN)]\x1b[0m');
            setStatus('peer half-closed: it sends no more', 'half');
          }
        },
      });
      tab.addon = addon;
      terminal.loadAddon(addon);
      finButton.disabled = false;
      finButton.addEventListener('click', () => {
        void addon.halfClose();
        finButton.disabled = true;
        setStatus('you half-closed: sending FIN, still reading', 'half');
      });
      modeToggle.addEventListener('click', () => {
        addon.lineMode = !addon.lineMode;
        modeToggle.textContent = addon.lineMode ? 'switch to raw mode' : 'switch to line mode';
        terminal.focus();
      });
      terminal.focus();
    },
    () => {},
  );
  socket.closed.then(
    () => setStatus('closed', 'closed'),
    (err: unknown) => {
      const e = err as WsocksError;
      inspector.fail(e);
      const where = e.hop ? ` at hop ${e.hop}` : '';
      setStatus(`error${where}: ${e.code}${e.replyCode !== undefined ? ` (${replyCodeText(e.replyCode)})` : ''}`, 'error');
      terminal.writeln(`\x1b[31m[${e.code}${where}: ${e.message}]\x1b[0m`);
    },
  );
  return tab;
}

function select(tab: Tab): void {
  active = tab;
  for (const t of tabs) {
    t.panel.hidden = t !== tab;
    t.button.setAttribute('aria-selected', String(t === tab));
  }
  requestAnimationFrame(() => {
    if (active !== tab) return;
    tab.fit.fit();
    tab.terminal.focus();
  });
}

function closeTab(tab: Tab): void {
  const i = tabs.indexOf(tab);
  tabs.splice(i, 1);
  tab.dispose();
  if (active === tab) {
    active = undefined;
    const next = tabs[Math.min(i, tabs.length - 1)];
    if (next) select(next);
  }
}

/** For browser tests: read terminals through xterm's buffer API rather than from pixels. */
function exposeTestHooks(session: Session): void {
  (window as unknown as { __wsocks: unknown }).__wsocks = {
    session,
    tabs: () => tabs.map((t) => ({ id: t.id, title: t.title, status: t.status })),
    terminalText: (id: number) => {
      const t = tabs.find((x) => x.id === id);
      if (!t) return null;
      const buf = t.terminal.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) {
        const line = buf.getLine(i);
        const text = line?.translateToString(true) ?? '';
        // A wrapped row continues the line above it.
        if (line?.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
        else lines.push(text);
      }
      return lines.join('\n').trimEnd();
    },
    transcript: (id: number) => tabs.find((x) => x.id === id)?.inspector.toJSON() ?? null,
  };
}

void main();
