/**
 * A transcript as input for Wireshark's `text2pcap`: one packet per handshake message, in order, with its
 * direction. Every hop's messages travel on the bridge's TCP connection to hop 1 (later hops inside its tunnel), so
 * this is that connection's byte stream. `text2pcap -D -T 50000,1080 in.txt out.pcap` wraps it in TCP to port 1080,
 * where Wireshark's SOCKS dissector reads it.
 */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

export function toText2pcap(entries: readonly TranscriptEntry[], title: string): string {
  const lines = [`# wsocks handshake transcript: ${title}`, '# convert: text2pcap -D -T 50000,1080 this.txt handshake.pcap'];
  for (const e of entries) {
    if (e.direction === 'local' || !e.hex) continue;
    // With -T 50000,1080, text2pcap writes "I" packets from port 50000 to 1080: the client's side.
    lines.push(`# hop ${e.hop} ${e.kind}`, e.direction === 'sent' ? 'I' : 'O');
    const bytes = e.hex.split(' ');
    for (let at = 0; at < bytes.length; at += 16) {
      lines.push(`${at.toString(16).padStart(6, '0')} ${bytes.slice(at, at + 16).join(' ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
