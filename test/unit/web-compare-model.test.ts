import { describe, expect, it } from 'vitest';
import { compareConnect } from '../../web/src/compare-model.ts';

describe('compare SOCKS4 / 4a / 5', () => {
  it('a name: SOCKS4 cannot carry it, SOCKS4a marks 0.0.0.1 and appends it, SOCKS5 sends ATYP 0x03 and a length', () => {
    const { columns, rows } = compareConnect('example.com', 80);
    expect(columns[0]).toMatchObject({ encoding: 'SOCKS4', error: expect.stringMatching(/IPv4 addresses only/) });
    expect(columns[1]!.hex).toBe('04 01 00 50 00 00 00 01 00 65 78 61 6d 70 6c 65 2e 63 6f 6d 00');
    expect(columns[2]!.hex).toBe('05 01 00 03 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d 00 50');
    const row = (role: string) => rows.find((r) => r.role === role)!.cells.map((f) => f && `${f.offset}:${f.hex}`);
    expect(row('port')).toEqual([undefined, '2:00 50', '16:00 50']);
    expect(row('address')).toEqual([undefined, '4:00 00 00 01', undefined]);
    expect(row('host name')).toEqual([undefined, '9:65 78 61 6d 70 6c 65 2e 63 6f 6d', '5:65 78 61 6d 70 6c 65 2e 63 6f 6d']);
    expect(row('name length')).toEqual([undefined, undefined, '4:0b']);
    expect(rows.map((r) => r.role)).toEqual(['version', 'command', 'reserved', 'address type', 'port', 'address', 'name length', 'host name', 'host name end', 'user id', 'user id end']);
  });

  it('an IPv4 address and a user id: SOCKS4 and 4a are the same bytes', () => {
    const { columns } = compareConnect('192.0.2.7', 443, 'bob');
    expect(columns.map((c) => c.hex)).toEqual(['04 01 01 bb c0 00 02 07 62 6f 62 00', '04 01 01 bb c0 00 02 07 62 6f 62 00', '05 01 00 01 c0 00 02 07 01 bb']);
    expect(columns[1]!.note).toMatch(/same bytes as SOCKS4/);
  });

  it('a port out of range is an error in every column', () => {
    expect(compareConnect('192.0.2.7', 70000).columns.map((c) => Boolean(c.error))).toEqual([true, true, true]);
  });
});
