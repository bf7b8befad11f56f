import { describe, expect, it } from 'vitest';
import {
  ClientHandshake,
  encodeSocks5Address,
  encodeSocks5Request,
  encodeWith,
  fromHex,
  toHex,
  type ClientStep,
  type ClientHandshakeOptions,
} from '../../../shared/socks/index.ts';

/** Plays a proxy's replies at the handshake, `chunk` bytes at a time; returns a readable log of what happened. */
function play(options: ClientHandshakeOptions, replies: string[], chunk = Infinity): string[] {
  const hs = new ClientHandshake(options);
  const log: string[] = [];
  const note = (steps: ClientStep[]) => {
    for (const s of steps) {
      if (s.type === 'write') log.push(`> ${s.message.kind} ${s.message.hex}`);
      if (s.type === 'read') log.push(`< ${s.message.kind} ${s.message.hex}`);
      if (s.type === 'bound') log.push(`bound ${s.bound.host}:${s.bound.port}`);
      if (s.type === 'done') log.push(`done ${s.bound.host}:${s.bound.port}`);
      if (s.type === 'error') log.push(`error ${s.error.code}${s.error.replyCode !== undefined ? ` ${s.error.replyCode}` : ''}`);
    }
  };
  note(hs.start());
  const all = fromHex(replies.join(' '));
  for (let i = 0; i < all.length && !log.some((l) => l.startsWith('done') || l.startsWith('error')); i += chunk) {
    note(hs.receive(all.subarray(i, Math.min(all.length, i + chunk))));
  }
  return log;
}

describe('ClientHandshake', () => {
  const socks5Auth: ClientHandshakeOptions = { type: 'socks5', host: 'example.com', port: 443, username: 'u', password: 'pw', maskPassword: true };

  it.each([1, Infinity])('runs SOCKS5 with RFC 1929 auth (replies in %s-byte chunks), masking the password', (chunk) => {
    expect(play(socks5Auth, ['05 02', '01 00', '05 00 00 01 7f 00 00 01 30 39'], chunk)).toEqual([
      '> socks5.greeting 05 02 00 02',
      '< socks5.method 05 02',
      '> socks5.auth 01 01 75 02 ** **',
      '< socks5.auth-reply 01 00',
      '> socks5.request 05 01 00 03 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d 01 bb',
      '< socks5.reply 05 00 00 01 7f 00 00 01 30 39',
      'done 127.0.0.1:12345',
    ]);
  });

  it('writes the real password even when the transcript masks it', () => {
    const hs = new ClientHandshake(socks5Auth);
    hs.start();
    const [, auth] = hs.receive(fromHex('05 02'));
    expect(auth?.type === 'write' && toHex(auth.bytes)).toBe('01 01 75 02 70 77');
    expect(auth?.type === 'write' && auth.message.fields.find((f) => f.label === 'PASSWD')).toMatchObject({ value: '(masked, 2 bytes)', hex: '** **', masked: true });
  });

  it('reports a refusal with the reply code', () => {
    expect(play({ type: 'socks5', host: '10.0.0.1', port: 80 }, ['05 00', '05 05 00 01 00 00 00 00 00 00']).at(-1)).toBe(
      'error ERR_SOCKS_REJECTED 5',
    );
  });

  it('fails clearly when the proxy wants a password we do not have, or refuses ours', () => {
    expect(play({ type: 'socks5', host: 'h', port: 1 }, ['05 ff']).at(-1)).toBe('error ERR_SOCKS_NO_ACCEPTABLE_METHOD');
    expect(play({ type: 'socks5', host: 'h', port: 1 }, ['05 02']).at(-1)).toBe('error ERR_SOCKS_NO_ACCEPTABLE_METHOD');
    expect(play(socks5Auth, ['05 02', '01 01']).at(-1)).toBe('error ERR_SOCKS_AUTH_FAILED');
  });

  it('runs SOCKS4 and SOCKS4a, with the user name as USERID', () => {
    expect(play({ type: 'socks4', host: '127.0.0.1', port: 80, username: 'bob' }, ['00 5a 00 00 00 00 00 00'])).toEqual([
      '> socks4.request 04 01 00 50 7f 00 00 01 62 6f 62 00',
      '< socks4.reply 00 5a 00 00 00 00 00 00',
      'done 0.0.0.0:0',
    ]);
    expect(play({ type: 'socks4a', host: 'db', port: 5432 }, ['00 5b 00 00 00 00 00 00'])).toEqual([
      '> socks4.request 04 01 15 38 00 00 00 01 00 64 62 00',
      '< socks4.reply 00 5b 00 00 00 00 00 00',
      'error ERR_SOCKS_REJECTED 91',
    ]);
  });

  it('refuses a name for plain SOCKS4, and garbage replies, with coded errors', () => {
    expect(play({ type: 'socks4', host: 'example.com', port: 80 }, [])).toEqual(['error ERR_SOCKS_BAD_ADDRESS']);
    expect(play({ type: 'socks5', host: 'h', port: 1 }, ['04 00']).at(-1)).toBe('error ERR_SOCKS_BAD_VERSION');
  });

  it.each([' 127.0.0.1', '\t127.0.0.1', '\uff11\uff12\uff17.\uff10.\uff10.\uff11', 'b\u00fccher.example', 'a'.repeat(256), ''])(
    'refuses the host %j before writing anything, as an error step, for every proxy type',
    (host) => {
      for (const type of ['socks5', 'socks4a'] as const) {
        expect(play({ type, host, port: 80 }, [])).toEqual(['error ERR_SOCKS_BAD_HOSTNAME']);
      }
      expect(play({ type: 'socks5', host: '127.0.0.1', port: 65536 }, [])).toEqual(['error ERR_SOCKS_BAD_PORT']);
      // A user name too long for RFC 1929 fails at the auth step, as a step.
      expect(play({ type: 'socks5', host: 'h', port: 1, username: 'u'.repeat(300) }, ['05 02']).at(-1)).toBe('error ERR_SOCKS_FIELD_TOO_LONG');
    },
  );

  it('encodes addresses without throwing: bytes or a coded error', () => {
    expect(encodeSocks5Address(' 127.0.0.1', 80)).toMatchObject({ status: 'error', error: { code: 'ERR_SOCKS_BAD_HOSTNAME' } });
    expect(encodeSocks5Address('x', -1)).toMatchObject({ status: 'error', error: { code: 'ERR_SOCKS_BAD_PORT' } });
    const ok = encodeSocks5Address('[::1]', 80);
    expect(ok.status === 'done' && toHex(ok.bytes)).toBe('04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 50');
    expect(encodeWith(() => encodeSocks5Request({ command: 1, host: '\u00e9', port: 1 }))).toMatchObject({ status: 'error', error: { code: 'ERR_SOCKS_BAD_HOSTNAME' } });
  });

  it('keeps tunnel bytes that arrive with the reply, and reports a proxy that closes early', () => {
    const hs = new ClientHandshake({ type: 'socks5', host: 'h', port: 1 });
    hs.start();
    hs.receive(fromHex('05 00'));
    const steps = hs.receive(fromHex('05 00 00 01 00 00 00 00 00 00 68 69'));
    expect(steps.at(-1)?.type).toBe('done');
    expect(toHex(hs.takeRest())).toBe('68 69');
    const early = new ClientHandshake({ type: 'socks5', host: 'h', port: 1 });
    early.start();
    expect(early.closed()[0]).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_PROXY_CLOSED' } });
  });
});

describe('ClientHandshake for BIND and UDP ASSOCIATE', () => {
  it('reports BIND’s first reply as bound and the second as done (SOCKS5)', () => {
    expect(
      play({ type: 'socks5', host: '0.0.0.0', port: 0, command: 2 }, ['05 00', '05 00 00 01 7f 00 00 01 9c 40', '05 00 00 01 7f 00 00 02 30 39'], 1),
    ).toEqual([
      '> socks5.greeting 05 01 00',
      '< socks5.method 05 00',
      '> socks5.request 05 02 00 01 00 00 00 00 00 00',
      '< socks5.reply 05 00 00 01 7f 00 00 01 9c 40',
      'bound 127.0.0.1:40000',
      '< socks5.reply 05 00 00 01 7f 00 00 02 30 39',
      'done 127.0.0.2:12345',
    ]);
  });

  it('emits the bound address between the replies, and fails on a refused second reply (SOCKS4)', () => {
    const hs = new ClientHandshake({ type: 'socks4', host: '0.0.0.0', port: 0, command: 2 });
    expect(toHex((hs.start()[0] as { bytes: Uint8Array }).bytes)).toBe('04 02 00 00 00 00 00 00 00');
    const first = hs.receive(fromHex('00 5a 9c 40 7f 00 00 01'));
    expect(first.at(-1)).toEqual({ type: 'bound', bound: { host: '127.0.0.1', port: 40000 } });
    expect(hs.receive(fromHex('00 5b 00 00 00 00 00 00')).at(-1)).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_REJECTED', replyCode: 0x5b } });
  });

  it('asks for UDP ASSOCIATE and returns the relay; refuses it over SOCKS4', () => {
    expect(play({ type: 'socks5', host: '0.0.0.0', port: 0, command: 3 }, ['05 00', '05 00 00 01 7f 00 00 01 c3 50']).slice(2)).toEqual([
      '> socks5.request 05 03 00 01 00 00 00 00 00 00',
      '< socks5.reply 05 00 00 01 7f 00 00 01 c3 50',
      'done 127.0.0.1:50000',
    ]);
    expect(play({ type: 'socks4a', host: 'h', port: 1, command: 3 }, [])).toEqual(['error ERR_SOCKS_BAD_COMMAND']);
  });
});
