/**
 * Field names: each is either a field of Wireshark's SOCKS dissector (as Debian's `tshark -G fields` lists them) or
 * this project's own, prefixed `wsocks.`. tshark is installed by scripts/ensure-system-deps.js (`npm test`).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { corpusFieldNames } from '../../helpers/socks-corpus.ts';

function wiresharkSocksFields(): Set<string> {
  const out = execFileSync('tshark', ['-G', 'fields'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    const cols = line.split('\t');
    // F <name> <abbrev> <type> <protocol> ...
    if (cols[0] === 'F' && cols[4] === 'socks') names.add(cols[2]!);
  }
  return names;
}

describe('field names against Wireshark', { timeout: 60_000 }, () => {
  const wireshark = wiresharkSocksFields();

  it('tshark lists the SOCKS dissector fields', () => {
    expect(wireshark.has('socks.version')).toBe(true);
    expect(wireshark.size).toBeGreaterThan(15);
  });

  it('every decoded field is a Wireshark SOCKS field or labelled as ours (wsocks.)', () => {
    const names = corpusFieldNames();
    const unknown = names.filter((n) => !n.startsWith('wsocks.') && !wireshark.has(n));
    expect(unknown).toEqual([]);
    // Ours are not accidentally Wireshark's under another prefix.
    const ours = names.filter((n) => n.startsWith('wsocks.'));
    expect(ours.filter((n) => wireshark.has(n.replace(/^wsocks\./, 'socks.')))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['socks.auth_accepted_method', 'socks.results', 'socks.auth_status', 'socks.password', 'socks.v4a_dns_name', 'socks.fragment_number']));
  });
});
