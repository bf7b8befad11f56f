import { describe, expect, it } from 'vitest';
import {
  ClientHandshake,
  ServerHandshake,
  decodeGssMessage,
  encodeGssAbort,
  encodeGssMessage,
  fromHex,
  GssClientHandshake,
  GssFrameReader,
  GssMessageType,
  GssProtection,
  GssServerHandshake,
  toHex,
  type GssAcceptorOps,
  type GssInitiatorOps,
  type GssStep,
} from '../../../shared/socks/index.ts';
import { decodeThreeWays, expectDone, expectError } from './feed.ts';

/** An initial Kerberos context token's opening: [APPLICATION 0], length, then the krb5 mechanism OID. */
const KRB5_INITIAL = fromHex('60 82 01 00 06 09 2a 86 48 86 f7 12 01 02 02 01 00 6e');

describe('RFC 1961 messages', () => {
  it('decodes a context token field by field, naming the Kerberos mechanism, fed a byte at a time', () => {
    const bytes = encodeGssMessage(GssMessageType.CONTEXT, KRB5_INITIAL);
    expect(toHex(bytes.subarray(0, 4))).toBe('01 01 00 12');
    const r = expectDone(decodeThreeWays(decodeGssMessage, bytes));
    expect(r.fields.map((f) => f.label)).toEqual(['VER', 'MTYP', 'LEN', 'TOKEN']);
    expect(r.fields[1]!.meaning).toBe('context establishment token');
    expect(r.fields[2]!.value).toBe(18);
    expect(r.fields[3]!.value).toBe('18-byte GSS-API token');
    expect(r.fields[3]!.meaning).toContain('Kerberos V5');
    expect(r.fields[3]!.spec).toBe('RFC 1961');
    expect(toHex(r.message.token)).toBe(toHex(KRB5_INITIAL));
  });

  it('shows a one-octet protection token as the level in clear (NEC style), a longer one as sealed', () => {
    const nec = expectDone(decodeThreeWays(decodeGssMessage, fromHex('01 02 00 01 02')));
    expect(nec.fields[3]!.value).toBe('0x02');
    expect(nec.fields[3]!.meaning).toContain('confidentiality');
    const sealed = expectDone(decodeThreeWays(decodeGssMessage, encodeGssMessage(GssMessageType.PROTECTION, new Uint8Array(28))));
    expect(sealed.fields[3]!.meaning).toContain('sealed with gss_wrap');
  });

  it('decodes the two-byte abort and encapsulated data', () => {
    const abort = expectDone(decodeThreeWays(decodeGssMessage, encodeGssAbort()));
    expect(abort.length).toBe(2);
    expect(abort.message.type).toBe(0xff);
    expect(abort.fields.map((f) => f.label)).toEqual(['VER', 'MTYP']);
    const data = expectDone(decodeThreeWays(decodeGssMessage, fromHex('01 03 00 03 aa bb cc')));
    expect(data.fields[1]!.meaning).toContain('encapsulated');
  });

  it.each([
    ['05 01 00 01 00', 'ERR_SOCKS_BAD_VERSION'],
    ['01 04 00 01 00', 'ERR_GSSAPI_BAD_MESSAGE'],
    ['01 01 00 00', 'ERR_GSSAPI_BAD_MESSAGE'],
  ])('refuses %s with %s', (hex, code) => {
    expectError(decodeThreeWays(decodeGssMessage, fromHex(hex)), code);
  });

  it('refuses to encode an empty or over-long token', () => {
    expect(() => encodeGssMessage(GssMessageType.CONTEXT, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'ERR_SOCKS_FIELD_TOO_LONG' }));
    expect(() => encodeGssMessage(GssMessageType.CONTEXT, new Uint8Array(65536))).toThrow(expect.objectContaining({ code: 'ERR_SOCKS_FIELD_TOO_LONG' }));
    expect(encodeGssMessage(GssMessageType.CONTEXT, new Uint8Array(65535)).length).toBe(65539);
  });

  it('splits encapsulated messages out of a stream fed a byte at a time, and refuses an abort in it', () => {
    const stream = fromHex('01 03 00 02 aa bb 01 03 00 01 cc');
    const reader = new GssFrameReader();
    const tokens: string[] = [];
    for (const b of stream) for (const t of reader.push(Uint8Array.of(b))) tokens.push(toHex(t));
    expect(tokens).toEqual(['aa bb', 'cc']);
    expect(reader.pending).toBe(0);
    expect(() => new GssFrameReader().push(fromHex('01 ff'))).toThrow(expect.objectContaining({ code: 'ERR_GSSAPI_REJECTED' }));
    expect(() => new GssFrameReader().push(fromHex('01 02 00 01 00'))).toThrow(expect.objectContaining({ code: 'ERR_GSSAPI_BAD_MESSAGE' }));
  });
});

/**
 * Stand-in GSS operations for the machines (the real ones, over Kerberos, are in test/integration/gssapi-*.test.ts):
 * a two-leg context like Kerberos with mutual authentication, and a reversible "wrap" that marks conf_req.
 */
function fakeOps() {
  const wrap = async (data: Uint8Array, confidential: boolean) => Uint8Array.from([0x77, confidential ? 1 : 0, ...data, 0x77]);
  const unwrap = async (token: Uint8Array) => {
    if (token[0] !== 0x77 || token.at(-1) !== 0x77) throw new Error('bad wrap token');
    return token.subarray(2, -1);
  };
  let clientLeg = 0;
  const initiator: GssInitiatorOps = {
    async initStep(input) {
      clientLeg++;
      if (clientLeg === 1) return { token: KRB5_INITIAL, complete: false };
      if (toHex(input) !== 'a0 a1') throw new Error('bad AP-REP');
      return { token: new Uint8Array(0), complete: true };
    },
    wrap,
    unwrap,
  };
  const acceptor: GssAcceptorOps = {
    async acceptStep(input) {
      if (toHex(input) !== toHex(KRB5_INITIAL)) throw new Error('Request ticket server not found');
      return { token: fromHex('a0 a1'), complete: true, principal: 'alice@TEST.WSOCKS' };
    },
    wrap,
    unwrap,
  };
  return { initiator, acceptor };
}

/** Runs both machines against each other, every byte delivered on its own; returns both logs. */
async function converse(client: GssClientHandshake, server: GssServerHandshake): Promise<{ c: string[]; s: string[] }> {
  const c: string[] = [];
  const s: string[] = [];
  const log = (into: string[], steps: GssStep[]) => {
    const out: Uint8Array[] = [];
    for (const st of steps) {
      if (st.type === 'write') {
        into.push(`> ${st.message.kind} ${toHex(st.bytes.subarray(0, 4))}`);
        out.push(st.bytes);
      } else if (st.type === 'read') into.push(`< ${st.message.kind}`);
      else if (st.type === 'done') into.push(`done ${st.protection}${st.principal ? ` ${st.principal}` : ''}`);
      else into.push(`error ${st.error.code}`);
    }
    return out;
  };
  let toServer = log(c, await client.start());
  for (let round = 0; round < 10 && toServer.length > 0; round++) {
    const toClient: Uint8Array[] = [];
    for (const m of toServer) for (const b of m) toClient.push(...log(s, await server.receive(Uint8Array.of(b))));
    toServer = [];
    for (const m of toClient) for (const b of m) toServer.push(...log(c, await client.receive(Uint8Array.of(b))));
  }
  return { c, s };
}

describe('GSS-API subnegotiation machines', () => {
  it('establish a context, then agree on the level the server chose (RFC style: sealed octets)', async () => {
    const { initiator, acceptor } = fakeOps();
    const client = new GssClientHandshake({ ops: initiator, protection: GssProtection.CONFIDENTIALITY });
    const server = new GssServerHandshake({ ops: acceptor, choose: (p) => (p >= 1 ? GssProtection.INTEGRITY : undefined) });
    const { c, s } = await converse(client, server);
    expect(c).toEqual(['> gssapi.context 01 01 00 12', '< gssapi.context', '> gssapi.protection 01 02 00 04', '< gssapi.protection', 'done 1']);
    expect(s).toEqual(['< gssapi.context', '> gssapi.context 01 01 00 02', '< gssapi.protection', '> gssapi.protection 01 02 00 04', 'done 1 alice@TEST.WSOCKS']);
  });

  it('exchange the level in clear in the NEC style, and the server answers clear by default', async () => {
    const { initiator, acceptor } = fakeOps();
    const client = new GssClientHandshake({ ops: initiator, protection: GssProtection.CONFIDENTIALITY, nec: true });
    const server = new GssServerHandshake({ ops: { acceptStep: acceptor.acceptStep } });
    const { c, s } = await converse(client, server);
    expect(c.slice(-3)).toEqual(['> gssapi.protection 01 02 00 01', '< gssapi.protection', 'done 0']);
    expect(s.at(-1)).toBe('done 0 alice@TEST.WSOCKS');
  });

  it('a server that cannot unwrap aborts a sealed proposal with ERR_GSSAPI_PROTECTION; the client sees ERR_GSSAPI_REJECTED', async () => {
    const { initiator, acceptor } = fakeOps();
    const client = new GssClientHandshake({ ops: initiator });
    const server = new GssServerHandshake({ ops: { acceptStep: acceptor.acceptStep } });
    const { c, s } = await converse(client, server);
    expect(s.slice(-2)).toEqual(['> gssapi.abort 01 ff', 'error ERR_GSSAPI_PROTECTION']);
    expect(c.slice(-2)).toEqual(['< gssapi.abort', 'error ERR_GSSAPI_REJECTED']);
  });

  it('a context the acceptor refuses (no such ticket) is aborted with ERR_GSSAPI_FAILED', async () => {
    const { initiator } = fakeOps();
    const client = new GssClientHandshake({ ops: initiator });
    const server = new GssServerHandshake({
      ops: {
        acceptStep: async () => {
          throw new Error('Unspecified GSS failure: Decrypt integrity check failed');
        },
      },
    });
    const { c, s } = await converse(client, server);
    expect(s).toEqual(['< gssapi.context', '> gssapi.abort 01 ff', 'error ERR_GSSAPI_FAILED']);
    expect(c.at(-1)).toBe('error ERR_GSSAPI_REJECTED');
  });

  it('the client refuses a level it does not support, and one the server does not offer is aborted', async () => {
    const a = fakeOps();
    const perMessage = await converse(new GssClientHandshake({ ops: a.initiator }), new GssServerHandshake({ ops: a.acceptor, choose: () => GssProtection.PER_MESSAGE }));
    expect(perMessage.c.at(-1)).toBe('error ERR_GSSAPI_PROTECTION');
    const b = fakeOps();
    const refused = await converse(new GssClientHandshake({ ops: b.initiator, protection: 0 }), new GssServerHandshake({ ops: b.acceptor, choose: (p) => (p === 0 ? undefined : p) }));
    expect(refused.s.slice(-2)).toEqual(['> gssapi.abort 01 ff', 'error ERR_GSSAPI_PROTECTION']);
  });

  it('the client fails with a coded error when its own context step fails (no ticket), before writing anything', async () => {
    const client = new GssClientHandshake({
      ops: {
        initStep: async () => {
          throw new Error('No Kerberos credentials available');
        },
        wrap: async (d) => d,
        unwrap: async (d) => d,
      },
    });
    const steps = await client.start();
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ type: 'error', error: { code: 'ERR_GSSAPI_FAILED' } });
    expect((steps[0] as { error: Error }).error.message).toContain('No Kerberos credentials');
  });

  it('a message of the wrong type or a proxy that closes early fails the client with a code, and the rest stays unread', async () => {
    const { initiator } = fakeOps();
    const client = new GssClientHandshake({ ops: initiator });
    await client.start();
    expect(await client.receive(fromHex('01 03 00 01 00'))).toEqual([
      expect.objectContaining({ type: 'read' }),
      expect.objectContaining({ type: 'error', error: expect.objectContaining({ code: 'ERR_GSSAPI_BAD_MESSAGE' }) }),
    ]);
    const other = new GssClientHandshake({ ops: fakeOps().initiator });
    await other.start();
    // Dante refuses by closing, without the abort: a refusal all the same.
    expect(other.closed()).toEqual([expect.objectContaining({ error: expect.objectContaining({ code: 'ERR_GSSAPI_REJECTED', message: expect.stringContaining('context exchange') }) })]);
  });

  it('refuses a peer that sends more than two whole messages ahead instead of buffering it', async () => {
    const { acceptor } = fakeOps();
    const server = new GssServerHandshake({ ops: { ...acceptor, acceptStep: () => new Promise(() => {}) } });
    void server.receive(encodeGssMessage(GssMessageType.CONTEXT, KRB5_INITIAL));
    expect(() => server.receive(new Uint8Array(70_000))).not.toThrow();
    expect(() => server.receive(new Uint8Array(70_000))).toThrow(expect.objectContaining({ code: 'ERR_GSSAPI_BAD_MESSAGE' }));
  });

  it('keeps the bytes after the subnegotiation (the SOCKS5 request) for the caller', async () => {
    const { acceptor } = fakeOps();
    const server = new GssServerHandshake({ ops: acceptor });
    await server.receive(encodeGssMessage(GssMessageType.CONTEXT, KRB5_INITIAL));
    const steps = await server.receive(Uint8Array.from([...fromHex('01 02 00 01 00'), 0x05, 0x01, 0x00]));
    expect(steps.at(-1)).toEqual({ type: 'done', protection: 0, principal: 'alice@TEST.WSOCKS' });
    expect(toHex(server.takeRest())).toBe('05 01 00');
  });
});

describe('method 0x01 in the SOCKS5 machines', () => {
  it('the client offers only GSS-API, hands the subnegotiation to its caller, then sends the request', async () => {
    
    const hs = new ClientHandshake({ type: 'socks5', host: 'example.com', port: 80, gssapi: true });
    const [greeting] = hs.start();
    expect(greeting!.type === 'write' && toHex(greeting!.bytes)).toBe('05 01 01');
    const steps = hs.receive(fromHex('05 01 01 02'));
    expect(steps.at(-1)).toEqual({ type: 'authenticate', method: 1 });
    expect(() => hs.receive(fromHex('00'))).toThrow(expect.objectContaining({ code: 'ERR_SOCKS_BAD_STATE' }));
    expect(toHex(hs.takeRest())).toBe('01 02');
    const [request] = hs.authenticated();
    expect(request!.type === 'write' && request!.message.kind).toBe('socks5.request');
    expect(hs.receive(fromHex('05 00 00 01 7f 00 00 01 00 50')).at(-1)).toMatchObject({ type: 'done' });
  });

  it('a client that wants GSS-API refuses a proxy that picks no authentication', async () => {
    
    const hs = new ClientHandshake({ type: 'socks5', host: 'example.com', port: 80, gssapi: true });
    hs.start();
    expect(hs.receive(fromHex('05 00')).at(-1)).toMatchObject({ type: 'error', error: { code: 'ERR_SOCKS_NO_ACCEPTABLE_METHOD' } });
    const socks4 = new ClientHandshake({ type: 'socks4a', host: 'example.com', port: 80, gssapi: true });
    expect(socks4.start()).toEqual([expect.objectContaining({ type: 'error' })]);
  });

  it('the server selects 0x01 when it offers it, and waits for the caller before reading the request', async () => {
    
    const hs = new ServerHandshake({ methods: [0x01], socks4: false });
    hs.receive(fromHex('05 02 00 01 01 01'));
    const ev = hs.next();
    expect(ev).toMatchObject({ type: 'greeting', method: 1 });
    expect(ev.type === 'greeting' && toHex(ev.reply)).toBe('05 01');
    expect(() => hs.next()).toThrow(expect.objectContaining({ code: 'ERR_SOCKS_BAD_STATE' }));
    expect(toHex(hs.takeRest())).toBe('01 01');
    hs.externalAuthResult(true);
    hs.receive(fromHex('05 01 00 01 7f 00 00 01 00 50'));
    expect(hs.next()).toMatchObject({ type: 'request', request: { port: 80 } });
    const other = new ServerHandshake({ methods: [0x01], socks4: false });
    other.receive(fromHex('05 01 00'));
    expect(other.next()).toMatchObject({ type: 'greeting', method: 0xff });
  });
});
