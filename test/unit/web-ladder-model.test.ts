import { describe, expect, it } from 'vitest';
import { buildLadder, nestSteps, type LadderNode } from '../../web/src/ladder-model.ts';
import { parseSessionRecord, type SessionRecord } from '../../web/src/transcript-file.ts';

const msg = (hop: number, direction: 'sent' | 'received', kind: string, fields: Array<{ label: string; value: number }> = []) => ({
  hop,
  direction,
  kind,
  hex: '05 00',
  at: 1,
  fields: fields.map((f, i) => ({ name: 'x', label: f.label, offset: i, length: 1, hex: '00', value: f.value, meaning: '', spec: '' })),
});
const local = (kind: string) => ({ hop: 0, direction: 'local' as const, kind, hex: '', fields: [], at: 0, note: kind });

function chain(hops: number, lastReply = 0): SessionRecord['entries'] {
  const entries: SessionRecord['entries'] = [local('connect')];
  for (let hop = 1; hop <= hops; hop++) {
    entries.push(msg(hop, 'sent', 'socks5.greeting'), msg(hop, 'received', 'socks5.method', [{ label: 'METHOD', value: 0 }]));
    entries.push(msg(hop, 'sent', 'socks5.request', [{ label: 'CMD', value: 1 }]), msg(hop, 'received', 'socks5.reply', [{ label: 'REP', value: hop === hops ? lastReply : 0 }]));
  }
  return entries;
}

/** The tree as text: a step's label with its columns, a tunnel block as `[through: …]`. */
function shape(nodes: LadderNode[]): string[] {
  return nodes.map((n) => ('through' in n ? `[${n.through}: ${shape(n.children).join(', ')}]` : `${n.step.from}>${n.step.to} ${n.step.label}`));
}

describe('ladder model', () => {
  it('nests hop 3 inside hop 2’s tunnel inside hop 1’s, in time order', () => {
    const ladder = buildLadder({ target: '127.0.0.1:7', entries: chain(3), error: null, opened: { remoteAddress: '127.0.0.1', remotePort: 7, at: 2 } });
    expect(ladder.columns).toEqual(['browser', 'bridge', 'hop 1', 'hop 2', 'hop 3', 'target']);
    expect(shape(nestSteps(ladder.steps))).toEqual([
      '0>1 open 127.0.0.1:7',
      '1>1 connect',
      '1>2 greeting',
      '2>1 method choice METHOD 0x00',
      '1>2 CONNECT request',
      '2>1 reply REP 0x00',
      '[1: 1>3 greeting, 3>1 method choice METHOD 0x00, 1>3 CONNECT request, 3>1 reply REP 0x00, [2: 1>4 greeting, 4>1 method choice METHOD 0x00, 1>4 CONNECT request, 4>1 reply REP 0x00]]',
      '1>0 opened',
    ]);
  });

  it('draws each failure where it happened', () => {
    const unreachable = buildLadder({ target: 'a:1', entries: chain(2, 4), error: { code: 'ERR_HOP_FAILED', message: 'host unreachable', hop: 2, replyCode: 4 } });
    const f = unreachable.steps.findIndex((s) => s.kind === 'failure');
    expect(unreachable.steps[f]).toMatchObject({ from: 3, to: 4, failed: true, tunnel: [] });
    expect(unreachable.steps[f + 1]).toMatchObject({ from: 3, to: 1, label: 'reply REP 0x04' });
    expect(unreachable.steps.at(-1)).toMatchObject({ kind: 'error', from: 1, to: 0 });

    const hopDown = buildLadder({ target: 'a:1', entries: [local('policy')], error: { code: 'ERR_CONNECT_FAILED', message: 'refused', hop: 1, replyCode: 5 } });
    expect(hopDown.steps.find((s) => s.kind === 'failure')).toMatchObject({ from: 1, to: 2 });

    const denied = buildLadder({ target: '10.0.0.1:22', entries: [local('policy')], error: { code: 'ERR_POLICY_DENIED', message: 'denied' } });
    expect(denied.columns).toEqual(['browser', 'bridge', 'target']);
    expect(denied.steps.find((s) => s.kind === 'failure')).toMatchObject({ from: 1, to: 1, label: '✗ ERR_POLICY_DENIED' });

    const authFailed = buildLadder({ target: 'a:1', entries: chain(1), error: { code: 'ERR_HOP_FAILED', message: 'bad password', hop: 1 } });
    expect(authFailed.steps.find((s) => s.kind === 'failure')).toMatchObject({ from: 2, to: 2 });
  });
});

describe('exported transcript files', () => {
  it('reads back what the inspector exports and refuses anything else with ERR_BAD_TRANSCRIPT', () => {
    const record: SessionRecord = { target: 'BIND', entries: chain(1), error: null, opened: null, firstData: { sent: { hex: '61 62', at: 3 } } };
    expect(parseSessionRecord(JSON.stringify(record))).toEqual(record);
    for (const bad of ['not json', '[]', '{"target":"x","entries":[],"error":null,"firstData":{"sent":{"hex":"zz","at":1}}}', '{"target":"x","entries":[{"hop":-1}],"error":null}']) {
      expect(() => parseSessionRecord(bad)).toThrow(expect.objectContaining({ code: 'ERR_BAD_TRANSCRIPT' }));
    }
  });
});
