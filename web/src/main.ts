/** The demo UI: open tunneled TCP sessions in terminals, and inspect each handshake byte by byte. */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { connect, WsocksError, type Hop, type OpenOptions, type Session } from '../client/index.ts';
import { h } from './dom.ts';
import { Inspector } from './inspector.ts';
import { replyCodeText } from './explain.ts';
import { WsocksAttachAddon } from './terminal-addon.ts';

interface DemoConfig {
  targets: Array<{ name: string; host: string; port: number; mode: 'line' | 'raw'; about: string }>;
  routes: Array<{ name: string; label: string }>;
  udpTargets: Array<{ name: string; host: string; port: number; about: string }>;
  proxies: Array<{ name: string; host: string; port: number }>;
}

interface Tab {
  id: number;
  title: string;
  button: HTMLButtonElement;
  panel: HTMLElement;
  terminal: Terminal | undefined;
  inspector: Inspector;
  fit: FitAddon | undefined;
  status: string;
  /** UDP tabs: the datagrams shown, for tests. */
  datagrams?: Array<{ direction: 'sent' | 'received'; peer: string; text: string }>;
  dispose(): void;
}

const CUSTOM = '(custom chain)';
const EMPTY_CONFIG: DemoConfig = { targets: [], udpTargets: [], routes: [{ name: '', label: 'direct' }], proxies: [] };
const tabs: Tab[] = [];
let active: Tab | undefined;
let nextTab = 1;

async function main(): Promise<void> {
  const app = document.getElementById('app')!;
  const configPromise: Promise<DemoConfig> = fetch('/demo/config.json')
    .then((r) => (r.ok ? r.json() : EMPTY_CONFIG))
    .catch(() => EMPTY_CONFIG);
  // The page's frame is drawn at once; the form follows when the bridge has said hello.
  const statusLine = h('p', { class: 'session-status', role: 'status' }, 'connecting to the bridge…');
  const sidebar = h('aside', { class: 'sidebar' }, h('h1', {}, 'wsocks'), h('p', { class: 'tagline' }, 'TCP for the browser, through SOCKS, byte by byte.'), statusLine);
  const tabBar = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'sessions' });
  const panels = h('div', { class: 'panels' }, h('p', { class: 'empty' }, 'Open a session: pick a target and a route, then “Open”.'));
  app.append(sidebar, h('main', {}, tabBar, panels));
  let session: Session;
  try {
    session = await connect(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`);
    statusLine.textContent = `bridge: ${session.info!.routes.length} routes, client chains ${session.info!.clientChains ? 'allowed' : 'off'}`;
  } catch (err) {
    statusLine.textContent = `cannot reach the bridge: ${(err as Error).message}`;
    return;
  }
  const config = await configPromise;
  const form = buildForm(config, session, statusLine);
  sidebar.append(form);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = readForm(form);
    if (data.kind === 'udp') openUdpTab(session, data, tabBar, panels);
    else openTab(session, data, tabBar, panels);
  });
  session.closed.then(() => (statusLine.textContent = 'the bridge closed the session; reload to reconnect'));
  exposeTestHooks(session);
}

interface FormData {
  kind: 'tcp' | 'udp' | 'bind';
  host: string;
  port: number;
  /** The route (named, or hops) and inspection, as `session.open()` takes them. */
  options: OpenOptions;
  mode: 'line' | 'raw';
  label: string;
}

function buildForm(config: DemoConfig, session: Session, _status: HTMLElement): HTMLFormElement {
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
    options: {
      ...(route !== CUSTOM && route !== '' ? { route } : {}),
      ...(via ? { via } : {}),
      inspect: (form.elements.namedItem('inspect') as HTMLInputElement).checked,
    },
    mode: get('mode') as 'line' | 'raw',
    kind: get('kind') as FormData['kind'],
    label: get('kind') === 'bind' ? `BIND via ${routeLabel}` : `${get('kind') === 'udp' && !/^udp/i.test(name ?? '') ? 'UDP ' : ''}${name} via ${routeLabel}`,
  };
}

function openTab(session: Session, data: FormData, tabBar: HTMLElement, panels: HTMLElement): Tab {
  const id = nextTab++;
  const socket = data.kind === 'bind' ? session.bind(data.options) : session.open({ host: data.host, port: data.port }, data.options);
  const inspector = new Inspector(data.kind === 'bind' ? 'BIND' : `${data.host}:${data.port}`);
  socket.onTranscript((e) => inspector.add(e));
  const terminal = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000, theme: { background: '#101418' } });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  const termBox = h('div', { class: 'terminal', 'data-tab': String(id) });
  const status = h('span', { class: 'status', role: 'status' }, data.kind === 'bind' ? 'asking for BIND…' : 'connecting…');
  const peerButton = h('button', { type: 'button', hidden: true }, 'connect the demo peer');
  const modeToggle = h('button', { type: 'button' }, data.mode === 'line' ? 'switch to raw mode' : 'switch to line mode');
  const finButton = h('button', { type: 'button', disabled: true }, 'send FIN (half-close)');
  const closeButton = h('button', { type: 'button' }, 'close');
  const { panel, button } = tabShell(id, data.label, [status, peerButton, modeToggle, finButton, closeButton], termBox, inspector, tabBar, panels);
  terminal.open(termBox);
  const observer = new ResizeObserver(() => {
    if (!panel.hidden) fit.fit();
  });
  observer.observe(termBox);

  let addon: WsocksAttachAddon | undefined;
  const tab: Tab = {
    id,
    title: data.label,
    button,
    panel,
    terminal,
    inspector,
    fit,
    status: 'connecting',
    dispose: () => {
      observer.disconnect();
      addon?.dispose();
      socket.close();
      terminal.dispose();
      button.remove();
      panel.remove();
    },
  };
  const setStatus = addTab(tab, status, closeButton);

  if (data.kind === 'bind') {
    socket.bound.then(
      (b) => {
        setStatus(`bound: the proxy listens at ${b.address}:${b.port}, waiting for a peer`, 'half');
        terminal.writeln(`\x1b[2m[BIND: the last hop listens at ${b.address}:${b.port}; a peer may connect there]\x1b[0m`);
        peerButton.hidden = false;
        peerButton.onclick = () => {
          peerButton.disabled = true;
          void fetch(`/demo/peer?host=${encodeURIComponent(b.address)}&port=${b.port}`, { method: 'POST' });
        };
      },
      () => {},
    );
  }
  socket.opened.then(
    (info) => {
      setStatus(`open: ${info.remoteAddress}:${info.remotePort}`, 'open');
      terminal.writeln(
        data.kind === 'bind'
          ? `\x1b[2m[a peer connected from ${info.remoteAddress}:${info.remotePort}]\x1b[0m`
          : `\x1b[2m[connected to ${data.host}:${data.port} via ${data.label.split(' via ')[1]}]\x1b[0m`,
      );
      peerButton.hidden = true;
      addon = new WsocksAttachAddon(info, {
        lineMode: data.mode === 'line',
        onBytes: (dir, bytes) => inspector.addData(dir, bytes),
        onReadableEnd: (err) => {
          if (!err) {
            terminal.writeln('\r\n\x1b[2m[the target finished sending (FIN)]\x1b[0m');
            setStatus('peer half-closed: it sends no more', 'half');
          }
        },
      });
      terminal.loadAddon(addon);
      finButton.disabled = false;
      finButton.addEventListener('click', () => {
        void addon?.halfClose();
        finButton.disabled = true;
        setStatus('you half-closed: sending FIN, still reading', 'half');
      });
      modeToggle.addEventListener('click', () => {
        if (!addon) return;
        addon.lineMode = !addon.lineMode;
        modeToggle.textContent = addon.lineMode ? 'switch to raw mode' : 'switch to line mode';
        terminal.focus();
      });
      terminal.focus();
    },
    () => {},
  );
  void settled(socket.closed, inspector, setStatus).then((e) => {
    if (e) terminal.writeln(`\x1b[31m[${e.code}${e.hop ? ` at hop ${e.hop}` : ''}: ${e.message}]\x1b[0m`);
  });
  return tab;
}

/**
 * Shows how a stream ended: "closed", or the error with its hop and reply code in words (and in the inspector).
 * Resolves with the error, if there was one.
 */
async function settled(closed: Promise<void>, inspector: Inspector, setStatus: (text: string, state: string) => void): Promise<WsocksError | undefined> {
  try {
    await closed;
    setStatus('closed', 'closed');
    return undefined;
  } catch (err) {
    const e = err as WsocksError;
    inspector.fail(e);
    setStatus(`error${e.hop ? ` at hop ${e.hop}` : ''}: ${e.code}${e.replyCode !== undefined ? ` (${replyCodeText(e.replyCode)})` : ''}`, 'error');
    return e;
  }
}

/** The tab button and its panel: a toolbar, the session's own view, and the inspector beside it. */
function tabShell(
  id: number,
  label: string,
  toolbar: HTMLElement[],
  view: HTMLElement,
  inspector: Inspector,
  tabBar: HTMLElement,
  panels: HTMLElement,
): { panel: HTMLElement; button: HTMLButtonElement } {
  panels.querySelector('.empty')?.remove();
  const panel = h('section', { class: 'panel', role: 'tabpanel', id: `panel-${id}`, hidden: true }, h('div', { class: 'toolbar' }, ...toolbar), h('div', { class: 'split' }, view, inspector.element));
  const button = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-controls': `panel-${id}`, title: label }, h('span', { class: 'dot' }), ` ${label} `, h('span', { class: 'x', 'aria-hidden': 'true' }, '×'));
  tabBar.append(button);
  panels.append(panel);
  return { panel, button };
}

/** Shows a new tab and wires its close controls; returns the function that sets its status. */
function addTab(tab: Tab, status: HTMLElement, closeButton: HTMLElement): (text: string, state: string) => void {
  tab.button.addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).classList.contains('x')) return closeTab(tab);
    select(tab);
  });
  tab.button.addEventListener('keydown', (ev) => {
    if (ev.key === 'Delete') closeTab(tab);
  });
  closeButton.addEventListener('click', () => closeTab(tab));
  tabs.push(tab);
  select(tab);
  return (text, state) => {
    tab.status = text;
    status.textContent = text;
    tab.button.dataset.state = state;
  };
}

/** A UDP tab: a datagram console (text or a DNS query) and the inspector with each datagram's RFC 1928 header. */
function openUdpTab(session: Session, data: FormData, tabBar: HTMLElement, panels: HTMLElement): Tab {
  const id = nextTab++;
  const socket = session.openUdp({ host: data.host, port: data.port }, data.options);
  const inspector = new Inspector(`udp ${data.host}:${data.port}`);
  socket.onTranscript((e) => inspector.add(e));
  const status = h('span', { class: 'status', role: 'status' }, 'associating…');
  const closeButton = h('button', { type: 'button' }, 'close');
  const text = h('input', { 'aria-label': 'datagram text', class: 'dgram-text', value: 'hello over UDP', autocomplete: 'off' });
  const sendButton = h('button', { type: 'submit', disabled: true }, 'send datagram');
  const dnsName = h('input', { 'aria-label': 'DNS name', value: 'www.demo.test' });
  const dnsButton = h('button', { type: 'button', disabled: true }, 'send DNS query (A)');
  const log = h('ol', { class: 'dgram-log', 'aria-label': 'datagrams' });
  const sendForm = h('form', { class: 'dgram-send' }, text, sendButton);
  const consoleBox = h(
    'div',
    { class: 'udp-console' },
    h('p', { class: 'explain' }, `Datagrams to ${data.host}:${data.port}. Each travels in one WebSocket message with the RFC 1928 §7 header; none is merged or split, any may be lost.`),
    sendForm,
    h('div', { class: 'dgram-send' }, dnsName, dnsButton),
    log,
  );
  const { panel, button } = tabShell(id, data.label, [status, closeButton], consoleBox, inspector, tabBar, panels);
  const datagrams: NonNullable<Tab['datagrams']> = [];
  const tab: Tab = {
    id,
    title: data.label,
    button,
    panel,
    terminal: undefined,
    inspector,
    fit: undefined,
    status: 'associating',
    datagrams,
    dispose: () => {
      socket.close();
      button.remove();
      panel.remove();
    },
  };
  const setStatus = addTab(tab, status, closeButton);
  const show = (direction: 'sent' | 'received', peer: { host: string; port: number }, bytes: Uint8Array) => {
    const shown = describePayload(bytes);
    datagrams.push({ direction, peer: `${peer.host}:${peer.port}`, text: shown });
    log.append(h('li', { class: direction }, `${direction === 'sent' ? '→' : '←'} ${peer.host}:${peer.port} (${bytes.length} bytes) ${shown}`));
    inspector.addDatagram(direction, peer, bytes);
  };
  socket.opened.then(
    async (info) => {
      setStatus(`associated: datagrams leave from ${info.relayAddress}:${info.relayPort}`, 'open');
      const writer = info.writable.getWriter();
      const target = { host: data.host, port: data.port };
      const send = (bytes: Uint8Array) => {
        show('sent', target, bytes);
        writer.write({ data: bytes }).catch((err: Error) => setStatus(`error: ${err.message}`, 'error'));
      };
      sendButton.disabled = false;
      dnsButton.disabled = false;
      sendForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        send(new TextEncoder().encode(text.value));
      });
      dnsButton.addEventListener('click', () => send(dnsQuery(dnsName.value)));
      for await (const m of info.readable as unknown as AsyncIterable<{ data: Uint8Array; remoteAddress: string; remotePort: number }>) {
        show('received', { host: m.remoteAddress, port: m.remotePort }, m.data);
      }
    },
    () => {},
  );
  void settled(socket.closed, inspector, setStatus);
  return tab;
}

/** A DNS query (RFC 1035) for an A record, with a random id. */
function dnsQuery(name: string): Uint8Array {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const bytes: number[] = [Math.floor(Math.random() * 256), Math.floor(Math.random() * 256), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of labels) bytes.push(l.length, ...Array.from(l.slice(0, 63), (c) => c.charCodeAt(0) & 0x7f));
  bytes.push(0, 0, 1, 0, 1);
  return Uint8Array.from(bytes);
}

/** Text for a datagram: a DNS message decoded in one line, printable text as is, else hex. */
function describePayload(b: Uint8Array): string {
  if (b.length >= 12 && b[4] === 0 && b[5] === 1 && (b[2]! & 0x78) === 0) {
    let at = 12;
    const labels: string[] = [];
    while (at < b.length && b[at] !== 0 && b[at]! < 64) {
      labels.push(String.fromCharCode(...b.subarray(at + 1, at + 1 + b[at]!)));
      at += 1 + b[at]!;
    }
    const isResponse = (b[2]! & 0x80) !== 0;
    const rcode = b[3]! & 0x0f;
    const name = labels.join('.');
    if (!isResponse) return `DNS query: A ${name}?`;
    if (rcode === 3) return `DNS answer: ${name} does not exist (NXDOMAIN)`;
    const tail = b.subarray(b.length - 4);
    return `DNS answer: ${name} A ${tail.join('.')}`;
  }
  const printable = b.every((x) => x === 9 || x === 10 || x === 13 || (x >= 0x20 && x < 0x7f));
  return printable ? JSON.stringify(new TextDecoder().decode(b)) : Array.from(b.subarray(0, 32), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function select(tab: Tab): void {
  active = tab;
  for (const t of tabs) {
    t.panel.hidden = t !== tab;
    t.button.setAttribute('aria-selected', String(t === tab));
  }
  requestAnimationFrame(() => {
    if (active !== tab) return;
    tab.fit?.fit();
    tab.terminal?.focus();
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
    datagrams: (id: number) => tabs.find((x) => x.id === id)?.datagrams ?? null,
    terminalText: (id: number) => {
      const t = tabs.find((x) => x.id === id);
      if (!t?.terminal) return null;
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
