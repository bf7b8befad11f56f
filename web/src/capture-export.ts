/**
 * A stream's transcript as a pcapng capture Wireshark can dissect. Every hop is its own TCP conversation with a
 * three-way handshake: the bridge (10.1.0.1) to hop 1 (10.1.0.2) is conversation 1, hop 1 to hop 2 (10.1.0.3) is
 * conversation 2, and so on, each to port 1080, where Wireshark's SOCKS dissector listens; so hop 2's handshake
 * (RFC 1929 included) is dissected as SOCKS too, although on the wire it travelled inside conversation 1's tunnel.
 * Addresses and ports are synthetic (the packets' comments name the real ones); the payload bytes are the
 * transcript's. A masked password is written as `*` bytes (0x2a) with a packet comment saying so. The first session
 * bytes (if given) follow on the last conversation; relayed UDP datagrams, with the RFC 1928 §7 header the bridge
 * captured, travel as UDP between the bridge and the relay's hop, at the relay's port from the UDP ASSOCIATE reply.
 */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import { TcpConversation, udpPacket, writePcapng, type CapturedPacket, type Endpoint } from './pcapng.ts';
import { entryBytes } from './transcript-bytes.ts';

/** The port every synthetic SOCKS server listens on: Wireshark's SOCKS dissector decodes TCP port 1080. */
export const SOCKS_PORT = 1080;

export interface CaptureInput {
  entries: readonly TranscriptEntry[];
  /** Wall-clock time of the open, in ms since the epoch (entries' `at` counts from it). */
  startedAtMs: number;
  /** What the capture shows in its section comment. */
  title: string;
  /** Session bytes after the handshake, each way, with the time they were seen (ms since the open). */
  data?: { sent: Uint8Array; received: Uint8Array; at?: number };
  /** For a direct stream (no hop), the target's port. */
  targetPort?: number;
}

const node = (i: number): number[] => [10, 1, 0, 1 + i];

/** " at host:port", as hop `hop`'s last request asked for it (where the next hop really listens), or "". */
function askedFor(entries: readonly TranscriptEntry[], hop: number): string {
  const request = entries.filter((e) => e.hop === hop && e.direction === 'sent' && e.kind.endsWith('.request')).at(-1);
  const field = (...labels: string[]) => request?.fields.find((f) => labels.includes(f.label) && f.name !== 'wsocks.remote_name_length')?.value;
  const host = request?.fields.filter((f) => ['DST.ADDR', 'DSTIP', 'HOST'].includes(f.label)).at(-1)?.value;
  const port = field('DST.PORT', 'DSTPORT');
  return host !== undefined && port !== undefined ? ` at ${host}:${port}` : '';
}

/**
 * The relay's port: BND.PORT of the hop's last SOCKS5 reply (the UDP ASSOCIATE reply), where Wireshark's SOCKS
 * dissector expects the association's datagrams; 1080 if there is none.
 */
function relayPort(entries: readonly TranscriptEntry[], hop: number): number {
  const reply = entries.filter((e) => e.hop === hop && e.kind === 'socks5.reply').at(-1);
  const tokens = reply?.hex.split(' ') ?? [];
  return tokens.length >= 2 ? parseInt(tokens.at(-2)! + tokens.at(-1)!, 16) || SOCKS_PORT : SOCKS_PORT;
}

export function transcriptToPcapng(input: CaptureInput): Uint8Array<ArrayBuffer> {
  const packets: Array<CapturedPacket & { order: number }> = [];
  let order = 0;
  const at = (ms: number) => (input.startedAtMs + ms) * 1000;
  const push = (ms: number, list: Uint8Array[], comment?: string) => {
    list.forEach((data, i) => packets.push({ timestampUs: at(ms) + i, data, order: order++, ...(comment && i === 0 ? { comment } : {}) }));
  };
  const conversations = new Map<number, TcpConversation>();
  const connectNotes = input.entries.filter((e) => e.kind === 'connect').map((e) => e.note ?? '');
  /** Conversation `hop` (1-based): node hop-1 to node hop, opened when first needed. */
  const conversation = (hop: number, ms: number): TcpConversation => {
    let c = conversations.get(hop);
    if (!c) {
      const client: Endpoint = { ip: node(hop - 1), port: 40000 + hop };
      const server: Endpoint = { ip: node(hop), port: hop === 0 ? (input.targetPort ?? 80) : SOCKS_PORT };
      c = new TcpConversation(client, server, 1000 * (hop + 1));
      conversations.set(hop, c);
      const from = hop <= 1 ? 'the bridge' : `hop ${hop - 1}`;
      const note =
        hop === 0
          ? `the bridge connects to the target directly${connectNotes[0] ? ` (${connectNotes[0]})` : ''}`
          : hop === 1
            ? `conversation 1: ${from} to hop 1${connectNotes[0] ? ` (${connectNotes[0]})` : ''}; port 1080 stands for the hop's real port`
            : `conversation ${hop}: ${from} connects to hop ${hop}${askedFor(input.entries, hop - 1)} because it was asked to (CONNECT in conversation ${hop - 1}); port 1080 stands for that port; on the wire these bytes travel inside conversation ${hop - 1}'s tunnel`;
      push(ms - 0.003, c.open(), note);
    }
    return c;
  };
  let lastHop = 0;
  let lastAt = 0;
  for (const e of input.entries) {
    if (e.direction === 'local' || e.hex === '' || e.kind === 'udp.datagram') continue;
    const { bytes, masked } = entryBytes(e);
    const c = conversation(e.hop, e.at);
    const comment = masked.length
      ? `${masked.map((m) => m.label).join(', ')} masked: bytes ${masked.map((m) => `${m.offset}-${m.offset + m.length - 1}`).join(', ')} are '*' placeholders, not the bytes that were sent`
      : `hop ${e.hop} ${e.kind}`;
    push(e.at, c.send(e.direction === 'sent', bytes), comment);
    lastHop = Math.max(lastHop, e.hop);
    lastAt = Math.max(lastAt, e.at);
  }
  if (input.data && (input.data.sent.length || input.data.received.length)) {
    const ms = input.data.at ?? lastAt + 1;
    const c = conversation(lastHop, ms);
    if (input.data.sent.length) push(ms, c.send(true, input.data.sent), 'first session bytes, client to target (through every hop)');
    if (input.data.received.length) push(ms + 0.5, c.send(false, input.data.received), 'first session bytes, target to client');
  }
  // Relayed datagrams, captured with their header: UDP between the bridge and the relay at their hop. (A direct
  // stream's datagrams have a header only inside the WebSocket, so they are not packets of their own.)
  for (const e of input.entries.filter((x) => x.kind === 'udp.datagram' && x.hop > 0)) {
    const bridge: Endpoint = { ip: node(0), port: 40100 };
    const relay: Endpoint = { ip: node(e.hop), port: relayPort(input.entries, e.hop) };
    const { bytes } = entryBytes(e);
    push(e.at, [e.direction === 'sent' ? udpPacket(bridge, relay, bytes) : udpPacket(relay, bridge, bytes)], `UDP datagram with its RFC 1928 §7 header, ${e.direction === 'sent' ? 'to' : 'from'} the relay at hop ${e.hop}${e.note ? ` (${e.note})` : ''}`);
  }
  packets.sort((a, b) => a.timestampUs - b.timestampUs || a.order - b.order);
  return writePcapng(packets, {
    comment: `wsocks handshake: ${input.title}. Each hop is its own TCP conversation to port 1080 (synthetic addresses 10.1.0.x).`,
    application: 'wsocks inspector',
  });
}
