/**
 * The pcapng writer and the transcript export, read back by Wireshark's tshark: checksums right, sequence and
 * acknowledgement numbers consistent (no analysis warnings), one TCP conversation per hop, SOCKS dissected on each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as s from '../../shared/socks/index.ts';
import { transcriptToPcapng } from '../../web/src/capture-export.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

const dir = mkdtempSync(join(tmpdir(), 'wsocks-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (hop: number, direction: 'sent' | 'received', kind: string, bytes: Uint8Array, at: number): TranscriptEntry => ({ hop, direction, kind, hex: s.toHex(bytes), fields: [], at });

function tshark(file: string, ...args: string[]): string {
  return execFileSync('tshark', ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('pcapng export', { timeout: 60_000 }, () => {
  const auth = s.decodeUserPassRequest(s.encodeUserPassRequest('demo', 'secret'), true);
  if (auth.status !== 'done') throw new Error('no');
  const maskedHex = s.toHex(s.encodeUserPassRequest('demo', 'secret')).split(' ').map((t, i) => (i >= 7 ? '**' : t)).join(' ');
  const entries: TranscriptEntry[] = [
    { hop: 0, direction: 'local', kind: 'connect', hex: '', fields: [], at: 0.5, note: 'connected to hop 1, socks5 proxy at 127.0.0.1:41000' },
    entry(1, 'sent', 'socks5.greeting', s.encodeSocks5Greeting([0]), 1),
    entry(1, 'received', 'socks5.method', s.encodeSocks5MethodSelection(0), 2),
    entry(1, 'sent', 'socks5.request', s.encodeSocks5Request({ command: 1, host: '127.0.0.1', port: 41001 }), 3),
    entry(1, 'received', 'socks5.reply', s.encodeSocks5Reply({ reply: 0, host: '127.0.0.1', port: 50000 }), 4),
    entry(2, 'sent', 'socks5.greeting', s.encodeSocks5Greeting([0, 2]), 5),
    entry(2, 'received', 'socks5.method', s.encodeSocks5MethodSelection(2), 6),
    { hop: 2, direction: 'sent', kind: 'socks5.auth', hex: maskedHex, fields: auth.fields, at: 7 },
    entry(2, 'received', 'socks5.auth-reply', s.encodeUserPassReply(true), 8),
    entry(2, 'sent', 'socks5.request', s.encodeSocks5Request({ command: 1, host: 'localhost', port: 7 }), 9),
    entry(2, 'received', 'socks5.reply', s.encodeSocks5Reply({ reply: 0, host: '::1', port: 50001 }), 10),
  ];
  const file = join(dir, 'two-hop.pcapng');
  writeFileSync(file, transcriptToPcapng({ entries, startedAtMs: Date.UTC(2026, 0, 1), title: 'echo via two-hop', data: { sent: new Uint8Array(3000).fill(0x61), received: Uint8Array.of(0x62) } }));

  it('has two TCP conversations, each opened by SYN, SYN-ACK, ACK, with no bad checksum or sequence problem', () => {
    const conv = tshark(file, '-q', '-z', 'conv,tcp');
    expect(conv).toMatch(/10\.1\.0\.1:40001\s+<->\s+10\.1\.0\.2:1080/);
    expect(conv).toMatch(/10\.1\.0\.2:40002\s+<->\s+10\.1\.0\.3:1080/);
    const syns = tshark(file, '-Y', 'tcp.flags.syn == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.flags.ack').trim().split('\n');
    expect(syns).toEqual(['0\t0', '0\t1', '1\t0', '1\t1']);
    expect(tshark(file, '-Y', 'tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0').trim()).toBe('');
    // 3000 bytes after the handshake: two segments, the second's seq follows the first.
    const data = tshark(file, '-Y', 'tcp.stream == 1 && tcp.len > 1000', '-T', 'fields', '-e', 'tcp.seq', '-e', 'tcp.len').trim().split('\n');
    expect(data.length).toBe(2);
    const [seq1, len1] = data[0]!.split('\t').map(Number) as [number, number];
    expect(Number(data[1]!.split('\t')[0])).toBe(seq1 + len1);
  });

  it('dissects SOCKS on both hops, RFC 1929 on hop 2, with the mask said in a packet comment', () => {
    const rows = tshark(file, '-Y', 'socks.version', '-T', 'fields', '-e', 'tcp.stream', '-e', 'socks.auth_method', '-e', 'socks.username', '-e', 'socks.auth_status', '-e', 'socks.remote_name').trim().split('\n');
    expect(rows.filter((r) => r.startsWith('0\t')).length).toBe(4);
    expect(rows.filter((r) => r.startsWith('1\t')).length).toBeGreaterThanOrEqual(6); // and the tunnelled data, shown as SOCKS data
    expect(rows).toContain('1\t0,2\t\t\t');
    expect(rows).toContain('1\t\tdemo\t\t');
    expect(rows).toContain('1\t\t\t0\t');
    expect(rows).toContain('1\t\t\t\tlocalhost');
    expect(tshark(file, '-Y', 'frame.comment contains "PASSWD masked"', '-T', 'fields', '-e', 'socks.password').trim()).toBe('******');
  });
});
