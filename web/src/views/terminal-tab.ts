/**
 * A session tab with a terminal: a CONNECT stream, or a BIND (the last hop listens; a demo peer may connect), wired
 * to xterm.js through the wsocks addon, with the handshake inspector beside it.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import type { Session } from '../../client/index.ts';
import { settled } from '../app/settled.ts';
import type { Tab, TabStrip } from '../app/tabs.ts';
import { h } from '../dom.ts';
import { Inspector } from '../inspector.ts';
import { sessionInsight } from './insight.ts';
import { installLeaveKeys, WsocksAttachAddon } from '../terminal-addon.ts';
import type { OpenRequest } from './form.ts';

/** Colours with enough contrast on the dark background (WCAG AA): notes in bright black, errors in a light red. */
const TERMINAL_THEME = {
  background: '#101418',
  foreground: '#e6e9ed',
  cursor: '#e6e9ed',
  red: '#ff8a80',
  brightRed: '#ffb3ab',
  green: '#6fdd8b',
  blue: '#82b1ff',
  brightBlack: '#a3adb8',
  black: '#2e3440',
};

export function openTerminalTab(session: Session, data: OpenRequest, strip: TabStrip): Tab {
  const id = strip.nextId();
  const socket = data.kind === 'bind' ? session.bind(data.options) : session.open({ host: data.host, port: data.port }, data.options);
  const inspector = new Inspector(data.kind === 'bind' ? 'BIND' : `${data.host}:${data.port}`, data.options.via);
  socket.onTranscript((e) => inspector.add(e));
  const insight = sessionInsight(inspector);
  const terminal = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000, theme: TERMINAL_THEME });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  const termBox = h('div', { class: 'terminal', 'data-tab': String(id) });
  const body = h('div', { class: 'term-wrap' }, termBox, h('p', { class: 'keys' }, h('kbd', {}, 'Escape'), ' then ', h('kbd', {}, 'Tab'), ' leaves the terminal (', h('kbd', {}, 'Shift+Tab'), ': backwards).'));
  const status = h('span', { class: 'status', role: 'status' }, data.kind === 'bind' ? 'asking for BIND…' : 'connecting…');
  const peerButton = h('button', { type: 'button', hidden: true }, 'connect the demo peer');
  const modeToggle = h('button', { type: 'button' }, data.mode === 'line' ? 'switch to raw mode' : 'switch to line mode');
  const finButton = h('button', { type: 'button', disabled: true }, 'send FIN (half-close)');
  const closeButton = h('button', { type: 'button' }, 'close');
  let addon: WsocksAttachAddon | undefined;
  let observer: ResizeObserver | undefined;
  const tab = strip.add(
    {
      id,
      title: data.label,
      toolbar: [status, peerButton, modeToggle, finButton, closeButton],
      body,
      aside: insight.element,
      status,
      closeButton,
      terminal,
      fit,
      inspector,
      insight,
      dispose: () => {
        observer?.disconnect();
        addon?.dispose();
        socket.close();
        terminal.dispose();
        insight.dispose();
      },
    },
    'connecting',
  );
  terminal.open(termBox);
  // Before the stream opens (and after it failed) too: the keyboard is never trapped in the terminal.
  installLeaveKeys(terminal);
  observer = new ResizeObserver(() => {
    if (!tab.panel.hidden) fit.fit();
  });
  observer.observe(termBox);
  const setStatus = tab.setStatus;

  if (data.kind === 'bind') {
    socket.bound.then(
      (b) => {
        setStatus(`bound: the proxy listens at ${b.address}:${b.port}, waiting for a peer`, 'half');
        terminal.writeln(`\x1b[90m[BIND: the last hop listens at ${b.address}:${b.port}; a peer may connect there]\x1b[0m`);
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
      inspector.markOpened(info.remoteAddress, info.remotePort);
      terminal.writeln(
        data.kind === 'bind'
          ? `\x1b[90m[a peer connected from ${info.remoteAddress}:${info.remotePort}]\x1b[0m`
          : `\x1b[90m[connected to ${data.host}:${data.port} via ${data.label.split(' via ')[1]}]\x1b[0m`,
      );
      peerButton.hidden = true;
      addon = new WsocksAttachAddon(info, {
        lineMode: data.mode === 'line',
        leaveKeys: false,
        onBytes: (dir, bytes) => inspector.addData(dir, bytes),
        onReadableEnd: (err) => {
          if (!err) {
            terminal.writeln('\r\n\x1b[90m[the target finished sending (FIN)]\x1b[0m');
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
      // Into the terminal, unless the learner is busy elsewhere in this session (its ladder, its cards) or has moved
      // to another tab while it connected (a BIND's peer can take minutes).
      const focus = document.activeElement;
      if (!tab.panel.hidden && (!tab.panel.contains(focus) || termBox.contains(focus))) terminal.focus();
    },
    () => {},
  );
  void settled(socket.closed, inspector, setStatus).then((e) => {
    if (e) terminal.writeln(`\x1b[31m[${e.code}${e.hop ? ` at hop ${e.hop}` : ''}: ${e.message}]\x1b[0m`);
  });
  return tab;
}
