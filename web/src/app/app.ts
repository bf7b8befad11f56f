/**
 * The app shell: the sidebar (title, bridge status, the open-session form, the tool views) and the main tab strip.
 * Sessions open as tabs from the form; tool views (web/src/views/index.ts) open as tabs from their sidebar buttons.
 */
import { connect, type Session } from '../../client/index.ts';
import { h } from '../dom.ts';
import { buildForm, readForm } from '../views/form.ts';
import { TOOL_VIEWS } from '../views/index.ts';
import { openTerminalTab } from '../views/terminal-tab.ts';
import { openUdpTab } from '../views/udp-tab.ts';
import { loadConfig } from './config.ts';
import { exposeTestHooks } from './test-hooks.ts';
import { keysHelp } from './keys-help.ts';
import { TabStrip, type Tab } from './tabs.ts';
import type { ToolView, ViewContext } from './views.ts';

export async function startApp(app: HTMLElement): Promise<void> {
  const configPromise = loadConfig();
  // The page's frame is drawn at once; the form follows when the bridge has said hello.
  const statusLine = h('p', { class: 'session-status', role: 'status' }, 'connecting to the bridge…');
  const sidebar = h('aside', { class: 'sidebar' }, h('h1', {}, 'wsocks'), h('p', { class: 'tagline' }, 'TCP for the browser, through SOCKS, byte by byte.'), statusLine);
  const strip = new TabStrip();
  app.append(sidebar, h('main', {}, strip.bar, strip.panels));
  let session: Session;
  try {
    session = await connect(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`);
    statusLine.textContent = `bridge: ${session.info!.routes.length} routes, client chains ${session.info!.clientChains ? 'allowed' : 'off'}`;
  } catch (err) {
    statusLine.textContent = `cannot reach the bridge: ${(err as Error).message}`;
    return;
  }
  const config = await configPromise;
  const form = buildForm(config, session);
  sidebar.append(form);
  const tools = toolButtons({ session, config, tabs: strip });
  if (tools) sidebar.append(tools);
  sidebar.append(keysHelp());

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = readForm(form);
    if (data.kind === 'udp') openUdpTab(session, data, strip);
    else openTerminalTab(session, data, strip);
  });
  session.closed.then(() => (statusLine.textContent = 'the bridge closed the session; reload to reconnect'));
  exposeTestHooks(session, strip);
}

/** A button per registered tool view; each opens its view as a tab, or shows the one already open. */
function toolButtons(ctx: ViewContext): HTMLElement | null {
  if (TOOL_VIEWS.length === 0) return null;
  const open = new Map<string, Tab>();
  const show = (view: ToolView) => {
    const existing = open.get(view.id);
    if (existing && ctx.tabs.tabs.includes(existing)) return ctx.tabs.select(existing);
    const tab = ctx.tabs.add(view.create(ctx));
    tab.panel.dataset.view = view.id;
    open.set(view.id, tab);
  };
  return h(
    'nav',
    { class: 'tools', 'aria-label': 'tools' },
    h('h2', {}, 'Tools'),
    h('ul', {}, ...TOOL_VIEWS.map((v) => h('li', {}, h('button', { type: 'button', id: `tool-${v.id}`, onclick: () => show(v) }, v.label), v.about ? h('p', { class: 'about-tool' }, v.about) : null))),
  );
}


