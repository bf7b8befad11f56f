/**
 * Transcript entries for the datagrams of an inspected UDP stream, from the bytes as they travelled: with a relay the
 * datagrams sent to and received from it (hop = the relay's hop), directly the frames exchanged with the client
 * (hop 0; the header exists only there). The first MAX_DATAGRAM_ENTRIES each way; a payload over
 * MAX_DATAGRAM_PAYLOAD_SHOWN bytes is cut there, and the note says so.
 */
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import { decodeUdpDatagram } from '../../shared/socks/udp.ts';
import { toHex } from '../../shared/socks/address.ts';

export const MAX_DATAGRAM_ENTRIES = 50;
export const MAX_DATAGRAM_PAYLOAD_SHOWN = 256;

export function datagramTranscript(
  hops: number,
  send: (entry: TranscriptEntry) => void,
): (direction: 'sent' | 'received', wire: Uint8Array, hop: 'relay' | 'client') => void {
  const started = performance.now();
  const count = { sent: 0, received: 0 };
  return (direction, wire, where) => {
    if (count[direction]++ >= MAX_DATAGRAM_ENTRIES) return;
    const full = decodeUdpDatagram(wire, direction);
    if (full.status !== 'done') return;
    const headerBytes = wire.length - full.message.data.length;
    const shown = wire.subarray(0, headerBytes + Math.min(full.message.data.length, MAX_DATAGRAM_PAYLOAD_SHOWN));
    const decoded = decodeUdpDatagram(shown, direction);
    if (decoded.status !== 'done') return;
    const cut = shown.length < wire.length;
    const on = where === 'relay' ? `to or from the relay at hop ${hops}` : 'in the WebSocket frame (a direct stream: no relay)';
    send({
      hop: where === 'relay' ? hops : 0,
      direction,
      kind: 'udp.datagram',
      hex: toHex(shown),
      fields: decoded.fields,
      at: performance.now() - started,
      note: `captured ${on}${cut ? `; payload cut to ${MAX_DATAGRAM_PAYLOAD_SHOWN} of ${full.message.data.length} bytes` : ''}`,
    });
  };
}
