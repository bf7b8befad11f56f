import { describe, expect, it } from 'vitest';
import { explainFailure } from '../../web/src/explain.ts';
import * as s from '../../shared/socks/index.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

const received = (hop: number, kind: string, r: s.DecodeResult<unknown>, hex: string): TranscriptEntry => {
  if (r.status !== 'done') throw new Error('test message did not decode');
  return { hop, direction: 'received', kind, hex, fields: r.fields, at: 1 };
};

describe('failure cards: the byte, the rule, the advice', () => {
  it('names REP of a SOCKS5 reply, with RFC 1928 §6', () => {
    const bytes = s.encodeSocks5Reply({ reply: 5 });
    const why = explainFailure([received(1, 'socks5.reply', s.decodeSocks5Reply(bytes, { command: 1 }), s.toHex(bytes))], 1)!;
    expect(why).toMatchObject({ byte: 'REP 0x05 (byte 1 of the reply from hop 1)', spec: 'RFC 1928 §6' });
    expect(why.rule).toMatch(/any other value is a failure/);
    expect(why.advice).toMatch(/nothing listens on that port/);
  });

  it('names CD of a SOCKS4 reply, METHOD 0xFF, and STATUS of RFC 1929, on the failing hop only', () => {
    const cd = s.encodeSocks4Reply({ code: 0x5d });
    expect(explainFailure([received(1, 'socks4.reply', s.decodeSocks4Reply(cd, { command: 1 }), s.toHex(cd))], 1)).toMatchObject({ byte: 'CD 0x5D (byte 1 of the SOCKS4 reply from hop 1)', spec: 'SOCKS4 (NEC)' });
    const ff = s.encodeSocks5MethodSelection(0xff);
    expect(explainFailure([received(2, 'socks5.method', s.decodeSocks5MethodSelection(ff), '05 ff')], 2)).toMatchObject({ byte: 'METHOD 0xFF (byte 1 of the method selection from hop 2)', spec: 'RFC 1928 §3' });
    const status = s.encodeUserPassReply(false);
    const entries = [received(2, 'socks5.auth-reply', s.decodeUserPassReply(status), '01 01')];
    expect(explainFailure(entries, 2)).toMatchObject({ byte: 'STATUS 0x01 (byte 1 of the username/password reply from hop 2)', spec: 'RFC 1929 §2' });
    expect(explainFailure(entries, 1)).toBeUndefined();
    const ok = s.encodeSocks5Reply({ reply: 0 });
    expect(explainFailure([received(1, 'socks5.reply', s.decodeSocks5Reply(ok), s.toHex(ok))], 1)).toBeUndefined();
  });
});
