/** A UDP tab: a datagram console (text or a DNS query) and the inspector with each datagram's RFC 1928 header. */
import type { Session } from '../../client/index.ts';
import { settled } from '../app/settled.ts';
import type { Tab, TabStrip } from '../app/tabs.ts';
import { h } from '../dom.ts';
import { Inspector } from '../inspector.ts';
import { sessionInsight } from './insight.ts';
import type { OpenRequest } from './form.ts';
import { describePayload, dnsQuery } from './udp-payload.ts';

export function openUdpTab(session: Session, data: OpenRequest, strip: TabStrip): Tab {
  const socket = session.openUdp({ host: data.host, port: data.port }, data.options);
  const inspector = new Inspector(`udp ${data.host}:${data.port}`, data.options.via);
  socket.onTranscript((e) => inspector.add(e));
  const insight = sessionInsight(inspector);
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
  const datagrams: NonNullable<Tab['datagrams']> = [];
  const tab = strip.add(
    { title: data.label, toolbar: [status, closeButton], body: consoleBox, aside: insight.element, status, closeButton, inspector, insight, datagrams, dispose: () => {
      socket.close();
      insight.dispose();
    } },
    'associating',
  );
  const setStatus = tab.setStatus;
  const show = (direction: 'sent' | 'received', peer: { host: string; port: number }, bytes: Uint8Array) => {
    const shown = describePayload(bytes);
    datagrams.push({ direction, peer: `${peer.host}:${peer.port}`, text: shown });
    log.append(h('li', { class: direction }, `${direction === 'sent' ? '→' : '←'} ${peer.host}:${peer.port} (${bytes.length} bytes) ${shown}`));
    inspector.addDatagram(direction, bytes);
  };
  socket.opened.then(
    async (info) => {
      setStatus(`associated: datagrams leave from ${info.relayAddress}:${info.relayPort}`, 'open');
      inspector.markOpened(info.relayAddress, info.relayPort);
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
