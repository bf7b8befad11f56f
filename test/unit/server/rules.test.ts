import { describe, expect, it } from 'vitest';
import {
  evaluateAssociation,
  evaluateBeforeResolving,
  evaluateRules,
  parseRules,
  RuleSchema,
  type RuleQuery,
} from '../../../server/socks/rules.ts';

const compile = (text: string) => parseRules(text, 'test.rules').map((r) => RuleSchema.parse(r));
const q = (over: Partial<RuleQuery>): RuleQuery => ({ client: '127.0.0.1', user: undefined, command: 'connect', ...over });

describe('rules file', () => {
  const rules = compile(`
    # office network may reach the web
    allow from 10.0.0.0/8 command connect to *.example.com port 80,443
    deny  user mallory
    allow user alice command connect,bind,udp to 192.168.0.0/16,::1 port 1-1023
    deny  to 127.0.0.0/8
    allow from 127.0.0.0/8,::1
  `);

  it('parses every rule', () => expect(rules).toHaveLength(5));

  it.each([
    [q({ client: '10.1.2.3', name: 'www.example.com', address: '93.184.216.34', port: 443 }), true, 0],
    [q({ client: '10.1.2.3', name: 'example.com', address: '93.184.216.34', port: 443 }), false, -1],
    [q({ client: '10.1.2.3', name: 'www.example.com', address: '93.184.216.34', port: 22 }), false, -1],
    [q({ user: 'mallory', address: '8.8.8.8', port: 53 }), false, 1],
    [q({ user: 'alice', command: 'bind', address: '192.168.3.4', port: 21 }), true, 2],
    [q({ user: 'alice', address: '::1', port: 22 }), true, 2],
    [q({ user: 'alice', address: '::ffff:192.168.3.4', port: 22 }), true, 2],
    [q({ address: '127.0.0.1', port: 80 }), false, 3],
    [q({ address: '8.8.8.8', port: 80 }), true, 4],
    [q({ client: '::ffff:127.0.0.1', address: '8.8.8.8', port: 80 }), true, 4],
    [q({ client: '192.0.2.1', address: '8.8.8.8', port: 80 }), false, -1],
  ])('decides %o: allow=%s by rule %i', (query, allow, rule) => {
    expect(evaluateRules(rules, query)).toEqual({ allow, rule });
  });

  it('allows everything when no rules are configured, and denies by default when they are', () => {
    expect(evaluateRules(undefined, q({ address: '1.2.3.4', port: 1 })).allow).toBe(true);
    expect(evaluateRules([], q({ address: '1.2.3.4', port: 1 })).allow).toBe(false);
  });

  it('decides by name before resolving when it can', () => {
    const r = compile('deny to *.blocked.test\nallow to 10.0.0.0/8\nallow');
    expect(evaluateBeforeResolving(r, q({ name: 'a.blocked.test' }))).toBe('deny');
    expect(evaluateBeforeResolving(r, q({ name: 'fine.test' }))).toBe('unknown');
    expect(evaluateBeforeResolving(compile('deny to *.blocked.test\nallow'), q({ name: 'fine.test' }))).toBe('allow');
  });

  it('lets a UDP association through when an allow rule could match a datagram', () => {
    const r = compile('deny command udp to 10.0.0.0/8\nallow command udp to 127.0.0.0/8 port 53');
    expect(evaluateAssociation(r, q({ command: 'udp' })).allow).toBe(true);
    expect(evaluateAssociation(compile('deny command udp'), q({ command: 'udp' })).allow).toBe(false);
  });

  it.each([
    ['permit to 1.2.3.4', 1, /action/],
    ['allow\nallow from 10.0.0.0/33', 2, /not an IP address or CIDR block: "10.0.0.0\/33"/],
    ['allow port 70000', 1, /not a port or port range/],
    ['allow port 90-80', 1, /not a port or port range/],
    ['allow command shell', 1, /command/],
    ['allow to bad_pattern!', 1, /not a CIDR block or host name pattern/],
    ['\n\n allow via 1.2.3.4', 3, /unknown keyword "via"/],
    ['allow from', 1, /from needs a value/],
    ['allow to a.test to b.test', 1, /to given twice/],
  ])('refuses %j at line %i', (text, line, reason) => {
    let error: unknown;
    try {
      parseRules(text, 'bad.rules');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ name: 'RulesFileError', code: 'ERR_RULES_INVALID', line });
    expect((error as Error).message).toMatch(new RegExp(`^bad\\.rules:${line}: `));
    expect((error as Error).message).toMatch(reason);
  });
});

describe('rules judge what an address means', () => {
  const rules = compile(`
    deny to 127.0.0.0/8,::1
    allow
  `);
  it.each(['0.0.0.0', '::', '::ffff:0.0.0.0', '127.0.0.2', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '::ffff:0:7f00:1', '::7f00:1', '2002:7f00:1::'])(
    'denies %s as loopback',
    (address) => expect(evaluateRules(rules, q({ address, port: 80 })).allow).toBe(false),
  );
  it.each(['8.8.8.8', '2606:4700::1111', '64:ff9b::808:808'])('allows %s', (address) => {
    expect(evaluateRules(rules, q({ address, port: 80 })).allow).toBe(true);
  });
});
