import { describe, expect, it } from 'vitest';
import { toText2pcap } from '../../web/src/text2pcap.ts';

const entry = (hop: number, direction: 'sent' | 'received' | 'local', kind: string, hex: string) => ({ hop, direction, kind, hex, fields: [], at: 0 });

describe('text2pcap export', () => {
  it('writes one directed packet per message, 16 bytes a line, and skips local steps', () => {
    const long = Array.from({ length: 18 }, (_, i) => i.toString(16).padStart(2, '0')).join(' ');
    const text = toText2pcap(
      [entry(0, 'local', 'connect', ''), entry(1, 'sent', 'socks5.greeting', '05 01 00'), entry(1, 'received', 'socks5.method', '05 00'), entry(2, 'sent', 'socks5.request', long)],
      'echo',
    );
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'I',
      '000000 05 01 00',
      'O',
      '000000 05 00',
      'I',
      '000000 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f',
      '000010 10 11',
      '',
    ]);
    expect(text).toContain('# hop 2 socks5.request');
  });
});
