import { describe, expect, it } from 'vitest';
import { answerDnsQuery } from '../../../server/demo/targets.ts';

const query = (name: string, type = 1) =>
  Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0, 0, type, 0, 1]);

describe('demo DNS responder', () => {
  it('answers A for names under demo.test, echoing the id and the question', () => {
    const answer = answerDnsQuery(query('www.demo.test'))!;
    expect(answer.readUInt16BE(0)).toBe(0x1234);
    expect(answer.readUInt16BE(2) & 0x800f).toBe(0x8000); // a response, NOERROR
    expect(answer.readUInt16BE(6)).toBe(1); // one answer
    expect([...answer.subarray(-4, -1)]).toEqual([198, 51, 100]);
  });

  it('says NXDOMAIN for other names and other types, and ignores garbage', () => {
    expect(answerDnsQuery(query('example.com'))!.readUInt16BE(2) & 0x000f).toBe(3);
    expect(answerDnsQuery(query('www.demo.test', 28))!.readUInt16BE(6)).toBe(0);
    expect(answerDnsQuery(Buffer.from([1, 2, 3]))).toBeNull();
    expect(answerDnsQuery(Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 60, 1, 2]))).toBeNull();
  });
});
