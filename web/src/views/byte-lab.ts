/**
 * The byte lab: type or paste hex (or pick a prepared message), send it as a raw TCP stream through the bridge to
 * one of the demo's SOCKS servers, and read the answer field by field. What was sent is decoded as our server reads
 * it (so the byte it rejects is marked, with the reason); what came back is decoded with the same codec; and how the
 * connection ended (the server closed it, reset it, or it is still open) is said.
 */
import type { ToolView, ViewContext } from '../app/views.ts';
import { h } from '../dom.ts';
import { AuthMethod, toHex } from '../../../shared/socks/index.ts';
import { analyzeReceived, analyzeSent, parseHex, presets, rejectedByte, type LabMessage, type SentSummary } from '../byte-lab-model.ts';
import { fieldView } from '../message-card.ts';
import type { WsocksError } from '../../client/index.ts';

const READ_CAP = 64 * 1024;

export const byteLabView: ToolView = {
  id: 'byte-lab',
  label: 'Byte lab',
  about: 'Send your own bytes to a demo SOCKS server and read its answer, field by field.',
  create(ctx) {
    return buildLab(ctx);
  },
};

function buildLab(ctx: ViewContext) {
  const echo = ctx.config.targets.find((t) => t.name === 'echo') ?? { host: '127.0.0.1', port: 7 };
  const list = presets({ host: echo.host, port: echo.port });
  const servers = ctx.config.proxies;
  const server = h('select', { id: 'lab-server' }, ...servers.map((p, i) => h('option', { value: String(i) }, `${p.name}: ${p.host}:${p.port}`)));
  const preset = h('select', { id: 'lab-preset' }, h('option', { value: '' }, '(type your own)'), ...list.map((p) => h('option', { value: p.id }, p.label)));
  const hex = h('textarea', { id: 'lab-hex', rows: '4', spellcheck: 'false', 'aria-describedby': 'lab-about' });
  const about = h('p', { id: 'lab-about', class: 'lab-about' }, 'Bytes as hex: "05 01 00", "0x05,0x01", "050100" all work.');
  const fin = h('input', { type: 'checkbox', id: 'lab-fin', checked: true });
  const send = h('button', { type: 'button', class: 'primary', id: 'lab-send' }, 'Send');
  const closeStream = h('button', { type: 'button', id: 'lab-close', disabled: true }, 'close the connection');
  const verdict = h('div', { class: 'lab-verdict', role: 'status', 'aria-live': 'polite' });
  const sentBox = h('section', { class: 'lab-sent', 'aria-label': 'what you sent' });
  const receivedBox = h('section', { class: 'lab-received', 'aria-label': 'what the server answered' });

  const applyPreset = () => {
    const p = list.find((x) => x.id === preset.value);
    if (!p) return;
    hex.value = toHex(p.bytes);
    server.value = String(Math.min(p.server, servers.length - 1));
    about.textContent = p.about;
  };
  preset.addEventListener('change', applyPreset);
  preset.value = 'greeting';
  applyPreset();

  let current: { close(): void } | undefined;
  const run = async () => {
    current?.close();
    const parsed = parseHex(hex.value);
    if ('error' in parsed) {
      verdict.textContent = parsed.error;
      return;
    }
    const target = servers[Number(server.value)];
    if (!target) {
      verdict.textContent = 'this page has no demo SOCKS server to send to';
      return;
    }
    const methods = target.methods ?? [AuthMethod.NO_AUTH];
    const sent = analyzeSent(parsed.bytes, methods);
    showSent(sentBox, sent);
    receivedBox.replaceChildren(h('h3', {}, 'The server answered'), h('p', { class: 'muted' }, 'waiting…'));
    verdict.textContent = `sending ${parsed.bytes.length} bytes to ${target.host}:${target.port}…`;
    const socket = ctx.session.open({ host: target.host, port: target.port });
    let ended: string | undefined;
    current = { close: () => socket.close() };
    closeStream.disabled = false;
    closeStream.onclick = () => socket.close();
    const received: number[] = [];
    const update = () => {
      const got = Uint8Array.from(received);
      showReceived(receivedBox, analyzeReceived(got, sent), got.length);
      verdict.replaceChildren(...verdictText(sent, got, ended));
    };
    try {
      const info = await socket.opened;
      const writer = info.writable.getWriter();
      await writer.write(parsed.bytes);
      if (fin.checked) await writer.close();
      else writer.releaseLock();
      update();
      const reader = info.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const b of value.subarray(0, Math.max(0, READ_CAP - received.length))) received.push(b);
        update();
      }
      ended = 'the server closed the connection (FIN)';
    } catch (err) {
      const e = err as WsocksError;
      ended = e.code === 'ERR_STREAM_RESET' ? 'the server reset the connection (RST)' : e.code === 'ERR_SESSION_CLOSED' ? 'you closed the connection' : `the stream failed: ${e.code ?? ''} ${e.message}`;
    } finally {
      closeStream.disabled = true;
    }
    update();
  };
  send.addEventListener('click', () => void run());

  const body = h(
    'div',
    { class: 'byte-lab' },
    h('h2', {}, 'Byte lab'),
    h('p', {}, 'Your bytes travel as a raw TCP stream through the bridge to a demo SOCKS server, exactly as typed. Below: what you sent, read the way our server reads it (the byte it rejects is marked), and what it answered, read with the same codec.'),
    h(
      'div',
      { class: 'lab-form' },
      h('label', { for: 'lab-server' }, 'Server'),
      server,
      h('label', { for: 'lab-preset' }, 'Prepared message'),
      preset,
      h('label', { for: 'lab-hex' }, 'Bytes (hex)'),
      hex,
      h('span', {}),
      about,
      h('span', {}),
      h('label', { class: 'check' }, fin, ' half-close after sending (FIN): tells the server nothing more comes'),
      h('span', {}),
      h('div', { class: 'lab-buttons' }, send, closeStream),
    ),
    verdict,
    h('div', { class: 'lab-io' }, sentBox, receivedBox),
  );
  const closeButton = h('button', { type: 'button' }, 'close');
  return { title: 'Byte lab', toolbar: [h('span', { class: 'status' }, 'raw bytes to a SOCKS server'), closeButton], body, closeButton, dispose: () => current?.close() };
}

function messageBlock(m: LabMessage, side: 'sent' | 'received'): HTMLElement {
  const mark = m.error ? { offset: m.error.offset - m.offset, note: `rejected: ${m.error.message}` } : undefined;
  const view = fieldView(m.fields, m.hex, mark);
  const state =
    m.status === 'need'
      ? `incomplete: ${m.need} more byte${m.need === 1 ? '' : 's'} needed`
      : m.status === 'error'
        ? `rejected at byte ${m.error!.offset}: ${m.error!.code}`
        : m.status === 'data'
          ? `${m.hex.split(' ').length} bytes`
          : 'complete';
  return h(
    'article',
    { class: `card message ${side} lab-message`, 'data-status': m.status },
    h('h4', {}, `${m.title} `, h('span', { class: 'at' }, `from byte ${m.offset}: ${state}`)),
    view.hex,
    m.fields.length || m.status !== 'data' ? view.table : null,
  );
}

function showSent(box: HTMLElement, sent: SentSummary): void {
  box.replaceChildren(h('h3', {}, 'You sent'), ...sent.messages.map((m) => messageBlock(m, 'sent')));
}

function showReceived(box: HTMLElement, messages: LabMessage[], length: number): void {
  box.replaceChildren(h('h3', {}, 'The server answered'), ...(length === 0 ? [h('p', { class: 'muted lab-nothing' }, 'nothing (no bytes)')] : []), ...messages.map((m) => messageBlock(m, 'received')));
}

/** One paragraph: the rejected byte and why, what the server answered, and how the connection ended. */
function verdictText(sent: SentSummary, got: Uint8Array, ended: string | undefined): Array<Node | string> {
  const out: Array<Node | string> = [];
  const bad = rejectedByte(sent);
  const incomplete = sent.messages.find((m) => m.status === 'need');
  if (bad) out.push(h('strong', { class: 'lab-rejected' }, `Rejected byte ${bad.offset} (0x${hexAt(sent, bad.offset)}): ${bad.message}.`), ' ');
  else if (incomplete) out.push(h('strong', { class: 'lab-incomplete' }, `Incomplete: the ${incomplete.title} needs ${incomplete.need} more byte${incomplete.need === 1 ? '' : 's'}; the server waits for them.`), ' ');
  out.push(got.length ? `The server answered ${got.length} byte${got.length === 1 ? '' : 's'}: ${toHex(got.subarray(0, 24))}${got.length > 24 ? ' …' : ''}.` : 'The server answered nothing.');
  out.push(' ', ended ? `Then ${ended}.` : 'The connection is still open.');
  return [h('p', { class: 'lab-summary' }, ...out)];
}

function hexAt(sent: SentSummary, offset: number): string {
  for (const m of sent.messages) {
    const tokens = m.hex.split(' ');
    if (offset >= m.offset && offset < m.offset + tokens.length) return tokens[offset - m.offset]!;
  }
  return '??';
}
