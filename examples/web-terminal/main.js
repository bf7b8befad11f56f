// A web terminal on a TCP stream through a wsocks bridge: a Vite app (`npx vite build`, then serve dist/).
// The bridge URL comes from ?bridge=ws://host:port/ (default: the page's own host), the target from the form.
import '@xterm/xterm/css/xterm.css';
import { Terminal } from '@xterm/xterm';
import { connect } from 'wsocks/client';
import { WsocksAttachAddon } from 'wsocks/xterm';

const params = new URLSearchParams(location.search);
const bridge = params.get('bridge') ?? `ws://${location.host}/`;
const status = document.getElementById('status');
const term = new Terminal({ convertEol: false });
term.open(document.getElementById('terminal'));

document.getElementById('connect').addEventListener('click', async () => {
  try {
    const session = await connect(bridge);
    session.addEventListener('close', (e) => (status.textContent = `session closed: ${e.error?.code ?? e.code}`));
    const socket = session.open(document.getElementById('target').value, { timeout: 10_000 });
    const stream = await socket.opened; // { readable, writable }: any such pair attaches
    // Line mode: local echo and editing, a line (with CRLF) sent on Enter, cursor keys swallowed.
    term.loadAddon(new WsocksAttachAddon(stream, { lineMode: true }));
    status.textContent = `open: ${stream.remoteAddress}:${stream.remotePort}`;
    term.focus();
  } catch (err) {
    status.textContent = `failed: ${err.code ?? ''} ${err.message}`;
  }
});

// For the tests (test/integration/package-install.test.ts): the terminal's text.
window.terminalText = () => {
  const b = term.buffer.active;
  return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? '').join('\n');
};
