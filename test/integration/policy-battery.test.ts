/**
 * The policy battery (issue 9): every address form below is tried against the bridge directly, through a client
 * chain hop, through socks4, socks4a and socks5 routes, as a UDP stream's target and as a datagram's destination,
 * and against our SOCKS server's rules. For each: the expected verdict (refused as a bad target, or denied by
 * policy), and proof that nothing reached the listeners behind it (TCP and UDP on 127.0.0.1 and ::1, same port,
 * counting every accept and datagram). Names come from a DNS server on loopback (the bridge's `dns.servers`).
 *
 * As root (CI), the battery re-runs itself inside a new network namespace that has only `lo` (`unshare -n`, then
 * `ip link set lo up`), so that a wrong verdict can never send a packet off the machine. Not as root (or as root
 * where namespaces are not permitted), it runs in the current namespace: every expected verdict is a refusal before
 * any connect, so a correct bridge sends nothing anywhere, but a regression could then reach a private address for
 * real.
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { startDnsServer, DNS_TYPE_A, DNS_TYPE_AAAA, type DnsServer } from '../../server/net/dns-responder.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { SPECIAL_PURPOSE_BLOCKS } from '../../shared/net/special-purpose.ts';
import { countingTcp, countingUdp, type CountingListener } from '../helpers/counting-listeners.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';

type Verdict = 'bad' | 'denied';
const CODE: Record<Verdict, string> = { bad: 'ERR_BAD_TARGET', denied: 'ERR_POLICY_DENIED' };

/** Names the test DNS server knows: A and AAAA answers. */
const ZONE: Record<string, { a?: string[]; aaaa?: string[] }> = {
  localhost: { a: ['127.0.0.1'], aaaa: ['::1'] },
  'loop.test': { a: ['127.0.0.1'] },
  'loop6.test': { aaaa: ['::1'] },
  'private.test': { a: ['10.0.0.1'] },
  'metadata.test': { a: ['169.254.169.254'] },
  'zero.test': { a: ['0.0.0.0'] },
  'unspecified6.test': { aaaa: ['::'] },
  'mapped.test': { aaaa: ['::ffff:127.0.0.1'] },
  'nat64.test': { aaaa: ['64:ff9b::7f00:1'] },
  'sixtofour.test': { aaaa: ['2002:7f00:1::1'] },
  'docs.test': { a: ['192.0.2.1', '203.0.113.5'] },
  // One allowed-looking public answer and one loopback answer: denied, since a name goes on only if every address passes.
  'mixed.test': { a: ['127.0.0.1', '192.0.2.9'] },
  'xn--bcher-kva.test': { a: ['127.0.0.1'] },
};

const FORMS: Array<[string, Verdict, string]> = [
  // numeric IPv4 spellings of loopback and of "this host"
  ['127.0.0.1', 'denied', 'v4'], ['127.1', 'denied', 'v4'], ['127.0.1', 'denied', 'v4'], ['0x7f.1', 'denied', 'v4'],
  ['0x7f.0.0.1', 'denied', 'v4'], ['0177.0.0.1', 'denied', 'v4'], ['0177.1', 'denied', 'v4'], ['017700000001', 'denied', 'v4'],
  ['2130706433', 'denied', 'v4'], ['0x7f000001', 'denied', 'v4'], ['0X7F000001', 'denied', 'v4'], ['127.0.0.1.', 'denied', 'v4'],
  ['127.000.000.001', 'denied', 'v4'], ['0x7f.0x0.0x0.0x1', 'denied', 'v4'], ['127.255.255.254', 'denied', 'v4'],
  ['\uff11\uff12\uff17.\uff10.\uff10.\uff11', 'denied', 'v4'], ['127\u30020\u30020\u30021', 'denied', 'v4'], ['127\uff0e0\uff0e0\uff0e1', 'denied', 'v4'],
  ['0', 'denied', 'v4'], ['0.0.0.0', 'denied', 'v4'], ['0x0', 'denied', 'v4'], ['00', 'denied', 'v4'], ['0.0.0.0.', 'denied', 'v4'],
  // the other special-purpose IPv4 blocks, in several spellings
  ['10.0.0.1', 'denied', 'v4'], ['012.1', 'denied', 'v4'], ['10.1', 'denied', 'v4'], ['167772161', 'denied', 'v4'],
  ['172.16.0.1', 'denied', 'v4'], ['172.31.255.255', 'denied', 'v4'], ['192.168.0.1', 'denied', 'v4'], ['3232235521', 'denied', 'v4'],
  ['0300.0250.0.1', 'denied', 'v4'], ['169.254.169.254', 'denied', 'v4'], ['169.254.43518', 'denied', 'v4'], ['100.64.0.1', 'denied', 'v4'],
  ['192.0.0.8', 'denied', 'v4'], ['192.0.0.170', 'denied', 'v4'], ['192.0.2.1', 'denied', 'v4'], ['198.18.0.1', 'denied', 'v4'],
  ['198.51.100.1', 'denied', 'v4'], ['203.0.113.1', 'denied', 'v4'], ['192.88.99.1', 'denied', 'v4'], ['224.0.0.1', 'denied', 'v4'],
  ['239.255.255.250', 'denied', 'v4'], ['240.0.0.1', 'denied', 'v4'], ['255.255.255.255', 'denied', 'v4'], ['4294967295', 'denied', 'v4'],
  ['0.1.2.3', 'denied', 'v4'],
  // IPv6 spellings and blocks
  ['::1', 'denied', 'v6'], ['[::1]', 'denied', 'v6'], ['0:0:0:0:0:0:0:1', 'denied', 'v6'], ['0::0:1', 'denied', 'v6'], ['::', 'denied', 'v6'],
  ['[::]', 'denied', 'v6'], ['::ffff:127.0.0.1', 'denied', 'v6'], ['::ffff:7f00:1', 'denied', 'v6'], ['[::FFFF:127.0.0.1]', 'denied', 'v6'],
  ['::ffff:0.0.0.0', 'denied', 'v6'], ['::ffff:10.0.0.1', 'denied', 'v6'], ['fe80::1', 'denied', 'v6'], ['FE80::A', 'denied', 'v6'],
  ['fc00::1', 'denied', 'v6'], ['fd00::1', 'denied', 'v6'], ['ff02::1', 'denied', 'v6'], ['2001:db8::1', 'denied', 'v6'],
  ['3fff::1', 'denied', 'v6'], ['5f00::1', 'denied', 'v6'], ['100::1', 'denied', 'v6'], ['2001:2::1', 'denied', 'v6'],
  ['64:ff9b:1::1', 'denied', 'v6'],
  // IPv4 embedded in IPv6: NAT64 (well-known, local-use), IPv4-compatible, SIIT, 6to4, Teredo (obfuscated client)
  ['64:ff9b::7f00:1', 'denied', 'embedded'], ['64:ff9b::127.0.0.1', 'denied', 'embedded'], ['64:ff9b::a00:1', 'denied', 'embedded'],
  ['64:ff9b::a9fe:a9fe', 'denied', 'embedded'], ['::127.0.0.1', 'denied', 'embedded'], ['::7f00:1', 'denied', 'embedded'],
  ['::ffff:0:127.0.0.1', 'denied', 'embedded'], ['::ffff:0:7f00:1', 'denied', 'embedded'], ['2002:7f00:1::1', 'denied', 'embedded'],
  ['2002:a00:1::1', 'denied', 'embedded'], ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'denied', 'embedded'], ['64:ff9b:1:7f00:0:100::', 'denied', 'embedded'],
  // zone ids
  ['::1%lo', 'bad', 'zone'], ['::1%1', 'bad', 'zone'], ['fe80::1%lo', 'bad', 'zone'], ['[::1%25lo]', 'bad', 'zone'], ['fe80::1%eth0', 'bad', 'zone'],
  // names, answered by the test DNS server
  ['localhost', 'denied', 'name'], ['LOCALHOST', 'denied', 'name'], ['localhost.', 'denied', 'name'], ['loop.test', 'denied', 'name'],
  ['Loop.Test.', 'denied', 'name'], ['\uff4c\uff4f\uff4f\uff50.test', 'denied', 'name'], ['loop\u3002test', 'denied', 'name'],
  ['lo\u00adop.test', 'denied', 'name'], ['loop6.test', 'denied', 'name'], ['private.test', 'denied', 'name'],
  ['metadata.test', 'denied', 'name'], ['zero.test', 'denied', 'name'], ['unspecified6.test', 'denied', 'name'],
  ['mapped.test', 'denied', 'name'], ['nat64.test', 'denied', 'name'], ['sixtofour.test', 'denied', 'name'], ['docs.test', 'denied', 'name'],
  ['mixed.test', 'denied', 'name'], ['b\u00fccher.test', 'denied', 'name'], ['B\u00dcCHER.test', 'denied', 'name'],
  // NUL, whitespace, delimiters, Unicode tricks, empty and over-long labels, bad literals
  ['127.0.0.1\u0000.allowed.example', 'bad', 'trick'], ['loop.test\u0000', 'bad', 'trick'], ['\u0000', 'bad', 'trick'],
  [' 127.0.0.1', 'bad', 'trick'], ['127.0.0.1 ', 'bad', 'trick'], ['127.0.0.1\t', 'bad', 'trick'], ['127.0.0.1\n', 'bad', 'trick'],
  ['loop.test\r\n', 'bad', 'trick'], ['127.0.0.1\u00a0', 'bad', 'trick'], ['127\u30000.0.1', 'bad', 'trick'], ['127.0.0.1\u200b', 'bad', 'trick'],
  ['loop\u2028.test', 'bad', 'trick'], ['127.0.0.1\u0085', 'bad', 'trick'], ['127.0.0.1\u007f', 'bad', 'trick'], ['127%2e0.0.1', 'bad', 'trick'],
  ['127.0.0.1/x', 'bad', 'trick'], ['127.0.0.1#x', 'bad', 'trick'], ['user@127.0.0.1', 'bad', 'trick'], ['127.0.0.1:80', 'bad', 'trick'],
  ['127.0.0.1\\x', 'bad', 'trick'], ['loop..test', 'bad', 'trick'], ['.loop.test', 'bad', 'trick'], ['.', 'bad', 'trick'],
  [`${'a'.repeat(64)}.test`, 'bad', 'trick'], [Array(51).fill('abcd').join('.'), 'bad', 'trick'], ['\u00e9'.repeat(200), 'bad', 'trick'],
  ['09.0.0.1', 'bad', 'trick'], ['1.2.3.4.5', 'bad', 'trick'], ['4294967296', 'bad', 'trick'], ['[127.0.0.1]', 'bad', 'trick'],
  ['::1::', 'bad', 'trick'], ['1:2:3', 'bad', 'trick'], ['xn--', 'bad', 'trick'], ['loo*p.test', 'bad', 'trick'],
];

const inNamespace = process.env.WSOCKS_BATTERY_NETNS === '1';
const asRoot = process.getuid?.() === 0;
// Root in a container without CAP_SYS_ADMIN cannot make a namespace: then it runs here, like a non-root user.
const canUnshare = asRoot && !inNamespace && spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status === 0;

if (canUnshare) {
  describe('policy battery (re-run inside a network namespace with only lo)', () => {
    it('passes inside unshare -n', async () => {
      const script = 'ip link set lo up && exec npx vitest run --project integration test/integration/policy-battery.test.ts';
      const child = spawn('unshare', ['-n', 'sh', '-c', script], { env: { ...process.env, WSOCKS_BATTERY_NETNS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', (c: number | null) => resolve(c)));
      expect(code, output.slice(-4000)).toBe(0);
      expect(output).toMatch(new RegExp(`${FORMS.length + 1} passed`));
    }, 300_000);
  });
} else {
  describe(`policy battery: ${FORMS.length} address forms${inNamespace ? ' (in a network namespace with only lo)' : ' (not root: in the current namespace)'}`, () => {
    let dns: DnsServer;
    const tcp: CountingListener[] = [];
    const udp: CountingListener[] = [];
    let proxy: SocksServer;
    let ruled: SocksServer;
    let bridge: BridgeServer;
    let session: RawSession;
    let nextId = 1;
    let port: number;

    beforeAll(async () => {
      expect(FORMS.length).toBeGreaterThanOrEqual(100);
      dns = await startDnsServer((name, type) => {
        const entry = ZONE[name];
        if (!entry) return null;
        const list = type === DNS_TYPE_A ? entry.a : type === DNS_TYPE_AAAA ? entry.aaaa : [];
        return (list ?? []).map((address) => ({ address, ttl: 0 }));
      });
      tcp.push(await countingTcp('127.0.0.1'));
      port = tcp[0]!.port;
      udp.push(await countingUdp('127.0.0.1', port));
      // ::1 on the same port; a host without IPv6 has only the IPv4 pair.
      await countingTcp('::1', port).then((l) => tcp.push(l), () => {});
      await countingUdp('::1', port).then((l) => udp.push(l), () => {});
      // The chain's proxy has no rules: whatever the bridge lets through, it would reach.
      proxy = await SocksServer.start({ port: 0 });
      // Our SOCKS server with the rules of the issue: loopback denied (0.0.0.0 and :: count as loopback), the other
      // non-global blocks denied too, every port-`port` target allowed otherwise.
      const others = SPECIAL_PURPOSE_BLOCKS.filter((b) => b.global !== true && !/^(0\.0\.0\.0|::)\//.test(b.cidr.text) && !['127.0.0.0/8', '::1/128'].includes(b.cidr.text));
      ruled = await SocksServer.start({
        port: 0,
        rules: [
          { action: 'deny', to: ['127.0.0.0/8', '::1'] },
          { action: 'deny', to: others.map((b) => b.cidr.text) },
          { action: 'allow', port: [port] },
        ],
      });
      const hop = (type: string) => [{ type, host: '127.0.0.1', port: proxy.address.port }];
      bridge = await BridgeServer.start({
        listen: '127.0.0.1:0',
        dns: { servers: [dns.address] },
        clientChains: true,
        // The client chain's first hop must be allowed; nothing else is.
        policy: { allow: [{ cidr: '127.0.0.1', ports: String(proxy.address.port) }] },
        routes: { s4: hop('socks4'), s4a: hop('socks4a'), s5: hop('socks5') },
        limits: { streamsPerSession: 64 },
      });
      session = await rawSession(bridge.url);
    });

    afterAll(async () => {
      session?.ws.close();
      await bridge?.close();
      await proxy?.close();
      await ruled?.close();
      for (const l of [...tcp, ...udp]) await l.close();
      await dns?.close();
    });

    /** Opens a stream and waits for its answer (not a transcript). */
    const open = async (fields: Record<string, unknown>) => {
      const id = nextId++;
      session.send({ type: 'open', id, port, window: 1024, ...fields });
      return session.next((m) => m.id === id && m.type !== 'transcript');
    };

    /** Sends one datagram naming `host` as ATYP 3 on an unconnected direct UDP stream; resolves with the bridge's notice. */
    const datagram = async (host: string) => {
      const name = Buffer.from(host, 'utf8');
      if (name.length === 0 || name.length > 255) return undefined;
      const opened = await open({ command: 'udp', port: undefined });
      expect(opened).toMatchObject({ type: 'opened' });
      const id = opened.id as number;
      const p = Buffer.alloc(2);
      p.writeUInt16BE(port);
      session.ws.send(encodeDataFrame(id, Buffer.concat([Buffer.from([0, 0, 0, 3, name.length]), name, p, Buffer.from('x')])));
      const notice = await session.next((m) => m.id === id && m.type === 'dropped');
      session.send({ type: 'close', id });
      return notice;
    };

    /** SOCKS5 CONNECT to our ruled server with `host` as a domain (ATYP 3); resolves with REP, or -1 on a close. */
    const socksRep = (request: Buffer) =>
      new Promise<number>((resolve) => {
        const s = connect(ruled.address.port, '127.0.0.1');
        let got = Buffer.alloc(0);
        s.on('error', () => {});
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= 4) {
            resolve(got[3]!);
            s.destroy();
          }
        });
        s.once('close', () => resolve(got.length >= 4 ? got[3]! : -1));
        s.write(Buffer.concat([Buffer.from([5, 1, 0]), request]));
      });
    const socksDomain = (host: string) => {
      const name = Buffer.from(host, 'utf8');
      const p = Buffer.alloc(2);
      p.writeUInt16BE(port);
      return Buffer.concat([Buffer.from([5, 1, 0, 3, name.length & 0xff]), name.subarray(0, 255), p]);
    };

    const hits = () => [...tcp, ...udp].flatMap((l) => l.hits);

    it.each(FORMS)('%j is %s (%s): direct, client chain, socks4/4a/5 routes, UDP, SOCKS server rules', async (host, verdict, family) => {
      const code = CODE[verdict];
      const answers = await Promise.all([
        open({ host }),
        open({ host, via: [{ type: 'socks5', host: '127.0.0.1', port: proxy.address.port }] }),
        open({ host, route: 's4' }),
        open({ host, route: 's4a' }),
        open({ host, route: 's5' }),
        open({ host, command: 'udp' }),
      ]);
      for (const [i, a] of answers.entries()) {
        expect(a, `${['direct', 'via', 'socks4', 'socks4a', 'socks5', 'udp'][i]}: ${JSON.stringify(a)}`).toMatchObject({ type: 'error', code });
      }
      const notice = await datagram(host);
      // A datagram header whose name is not visible ASCII is already a malformed header (ERR_BAD_FRAME).
      if (notice) expect([code, ...(verdict === 'bad' || /[^\x21-\x7e]/.test(host) ? ['ERR_BAD_FRAME'] : [])]).toContain(notice.code);
      // Our SOCKS server: names it would ask the system resolver about (off the machine outside a namespace) are
      // left out unless /etc/hosts has them; every other form must be refused.
      if (family !== 'name' || /^localhost\.?$/i.test(host)) {
        const rep = await socksRep(socksDomain(host));
        expect(rep, `SOCKS server REP for ${JSON.stringify(host)}`).not.toBe(0);
        // Not allowed by ruleset; a name that is not visible ASCII is refused earlier by the codec (REP 01).
        if (verdict === 'denied' && family !== 'name') expect(rep).toBe(/^[\x21-\x7e]+$/.test(host) ? 2 : 1);
      }
      expect(hits()).toEqual([]);
    });

    it('our SOCKS server refuses ATYP 1 0.0.0.0 and ATYP 4 :: and ::ffff:0.0.0.0 as loopback (REP 02)', async () => {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(port);
      const v6 = (last: number[]) => Buffer.from([...new Array(16 - last.length).fill(0), ...last]);
      expect(await socksRep(Buffer.concat([Buffer.from([5, 1, 0, 1, 0, 0, 0, 0]), p]))).toBe(2);
      expect(await socksRep(Buffer.concat([Buffer.from([5, 1, 0, 4]), v6([]), p]))).toBe(2);
      expect(await socksRep(Buffer.concat([Buffer.from([5, 1, 0, 4]), v6([0xff, 0xff, 0, 0, 0, 0]), p]))).toBe(2);
      expect(hits()).toEqual([]);
    });
  });
}
