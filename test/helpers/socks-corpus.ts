/**
 * One of every SOCKS message shape the codec decodes (each address type, SOCKS4 and 4a, RFC 1929 masked and not,
 * UDP both ways), decoded: their fields are what the inspector shows, so tests check every field name and text.
 */
import {
  Command,
  decodeGssMessage,
  decodeSocks4Reply,
  decodeSocks4Request,
  decodeSocks5Greeting,
  decodeSocks5MethodSelection,
  decodeSocks5Reply,
  decodeSocks5Request,
  decodeUdpDatagram,
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeGssAbort,
  encodeGssMessage,
  encodeSocks4Reply,
  encodeSocks4Request,
  encodeSocks5Greeting,
  encodeSocks5MethodSelection,
  encodeSocks5Reply,
  encodeSocks5Request,
  encodeUdpDatagram,
  encodeUserPassReply,
  encodeUserPassRequest,
  type DecodeResult,
  type Field,
} from '../../shared/socks/index.ts';

function fieldsOf<T>(r: DecodeResult<T>): Field[] {
  if (r.status !== 'done') throw new Error(`corpus message did not decode: ${r.status}`);
  return r.fields;
}

/** Every decoded message of the corpus, named. */
export function socksCorpus(): Array<{ message: string; fields: Field[] }> {
  const hosts = ['192.0.2.1', '2001:db8::1', 'example.com'];
  const out: Array<{ message: string; fields: Field[] }> = [];
  const add = (message: string, r: DecodeResult<unknown>) => out.push({ message, fields: fieldsOf(r) });
  add('socks5 greeting', decodeSocks5Greeting(encodeSocks5Greeting([0, 2])));
  add('socks5 method selection', decodeSocks5MethodSelection(encodeSocks5MethodSelection(2)));
  add('rfc1929 request', decodeUserPassRequest(encodeUserPassRequest('user', 'pw')));
  add('rfc1929 request masked', decodeUserPassRequest(encodeUserPassRequest('user', 'pw'), true));
  add('rfc1929 reply', decodeUserPassReply(encodeUserPassReply(false)));
  for (const host of hosts) {
    for (const command of [Command.CONNECT, Command.BIND, Command.UDP_ASSOCIATE]) {
      add(`socks5 request ${command} ${host}`, decodeSocks5Request(encodeSocks5Request({ command, host, port: 80 })));
      add(`socks5 reply ${command} ${host}`, decodeSocks5Reply(encodeSocks5Reply({ reply: 0, host, port: 80 }), { command }));
    }
    add(`udp sent ${host}`, decodeUdpDatagram(encodeUdpDatagram({ host, port: 53, data: Uint8Array.of(1, 2) }), 'sent'));
    add(`udp received ${host}`, decodeUdpDatagram(encodeUdpDatagram({ host, port: 53, data: Uint8Array.of(1, 2) }), 'received'));
  }
  add('socks4 request', decodeSocks4Request(encodeSocks4Request({ command: Command.CONNECT, host: '192.0.2.1', port: 80, userId: 'bob' })));
  add('socks4a request', decodeSocks4Request(encodeSocks4Request({ command: Command.CONNECT, host: 'example.com', port: 80, userId: 'bob' })));
  add('socks4 reply', decodeSocks4Reply(encodeSocks4Reply({ code: 0x5a, host: '192.0.2.1', port: 80 }), { command: Command.BIND }));
  add('gssapi context token', decodeGssMessage(encodeGssMessage(0x01, Uint8Array.of(0x60, 0x01, 0x02))));
  add('gssapi abort', decodeGssMessage(encodeGssAbort()));
  return out;
}

/** The distinct field names of the corpus. */
export function corpusFieldNames(): string[] {
  return [...new Set(socksCorpus().flatMap((m) => m.fields.map((f) => f.name)))].sort();
}
