/** `wsocks bridge` / `wsocks socks` as an operator watches them: /metrics (Prometheus) and JSON log lines. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDataFrame, encodeDataFrame } from '../../shared/protocol/frame.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { curl, startEcho, startHttp, type Running } from '../helpers/net.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';
import { httpGet, runCli } from '../helpers/cli.ts';
import { parseMetrics } from '../helpers/metrics.ts';

const TOKEN = 'operator-token-0123456789';
const ROUTE_PASSWORD = 'route-password-xyz';

function records(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function echoOnce(s: RawSession, id: number, open: Record<string, unknown>, text: string): Promise<void> {
  s.send({ type: 'open', id, window: 1 << 20, ...open });
  expect((await s.next((x) => x.id === id && (x.type === 'opened' || x.type === 'error'))).type).toBe('opened');
  s.ws.send(encodeDataFrame(id, Buffer.from(text)));
  for (;;) {
    const got = Buffer.concat(s.frames.map((f) => decodeDataFrame(f)!).filter((f) => f.id === id).map((f) => f.data));
    if (got.length >= text.length) break;
    await new Promise<void>((resolve) => s.ws.once('message', () => resolve()));
  }
  s.send({ type: 'close', id });
}

describe('observability from the command line', () => {
  let dir: string;
  let target: Running;
  let hop: SocksServer;
  let http: Running;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-obs-'));
    target = await startEcho();
    http = await startHttp('obs ok');
    hop = await SocksServer.start({ host: '127.0.0.1', port: 0, users: [{ username: 'ru', password: ROUTE_PASSWORD }] });
  });
  afterAll(async () => {
    await hop.close();
    await target.close();
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([false, true])('bridge: metrics (separate listener: %s) and one JSON record per session and stream, no secret', async (separate) => {
    const file = join(dir, `bridge-${separate}.json`);
    await writeFile(
      file,
      JSON.stringify({
        listen: '127.0.0.1:0',
        tokens: [TOKEN],
        policy: { allow: [{ cidr: '127.0.0.0/8' }], deny: [{ cidr: '127.0.0.2/32' }] },
        routes: { hop: [{ type: 'socks5', host: '127.0.0.1', port: hop.address.port, username: 'ru', password: ROUTE_PASSWORD }] },
        ...(separate ? { metrics: { listen: '127.0.0.1:0' } } : {}),
      }),
    );
    const cli = runCli(['bridge', '--config', file]);
    const banner = await cli.banner;
    const base = `127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec(banner)![1]}`;
    const metricsUrl = separate ? /metrics on (http:\S+)/.exec(banner)?.[1] : `http://${base}/metrics`;
    expect(metricsUrl, banner).toBeDefined();
    if (separate) expect((await httpGet(`http://${base}/metrics`)).status).toBe(426);

    const refused = await rawSession(`ws://${base}/`, { headers: { authorization: 'Bearer wrong-token-but-long' }, waitHello: false });
    expect((await refused.closed).code).toBe(4401);
    const s = await rawSession(`ws://${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await echoOnce(s, 1, { host: '127.0.0.1', port: target.port }, 'x'.repeat(1000));
    await echoOnce(s, 2, { route: 'hop', host: '127.0.0.1', port: target.port }, 'y'.repeat(300));
    s.send({ type: 'open', id: 3, host: '127.0.0.2', port: target.port, window: 1024 });
    expect((await s.next((x) => x.id === 3 && x.type === 'error')).code).toBe('ERR_POLICY_DENIED');
    s.ws.close(1000, 'done');
    await s.closed;
    await cli.waitErr(/"session_end"/);

    const res = await fetch(metricsUrl!);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const m = parseMetrics(await res.text());
    expect(m.get('wsocks_sessions_total{protocol="wsocks"}')).toBe(1);
    expect(m.get('wsocks_sessions')).toBe(0);
    expect(m.get('wsocks_streams')).toBe(0);
    expect(m.get('wsocks_streams_total{command="connect",route="direct",protocol="wsocks"}')).toBe(1);
    expect(m.get('wsocks_streams_total{command="connect",route="hop",protocol="wsocks"}')).toBe(1);
    expect(m.get('wsocks_stream_open_seconds_count{route="direct"}')).toBe(1);
    expect(m.get('wsocks_stream_open_seconds_count{route="hop"}')).toBe(1);
    expect(m.get('wsocks_bytes_total{direction="up",protocol="wsocks"}')).toBe(1300);
    expect(m.get('wsocks_bytes_total{direction="down",protocol="wsocks"}')).toBeGreaterThanOrEqual(1300);
    expect(m.get('wsocks_errors_total{code="ERR_POLICY_DENIED"}')).toBe(1);
    expect(m.get('wsocks_policy_denials_total{reason="ERR_POLICY_DENIED"}')).toBe(1);
    expect(m.get('wsocks_refused_upgrades_total{reason="ERR_UNAUTHORIZED"}')).toBe(1);
    expect(m.get('wsocks_session_closes_total{code="1000",protocol="wsocks"}')).toBe(1);
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    const err = cli.stderr();
    expect(err).not.toContain(TOKEN);
    expect(err).not.toContain(ROUTE_PASSWORD);
    expect(err).not.toContain('wrong-token-but-long');
    const recs = records(err);
    for (const r of recs) expect(r).toEqual(expect.objectContaining({ level: expect.any(Number), time: expect.any(Number), msg: expect.any(String) }));
    expect(recs.filter((r) => r.msg === 'session_start')).toEqual([expect.objectContaining({ client: '127.0.0.1', session: 1, protocol: 'wsocks' })]);
    const ends = recs.filter((r) => r.msg === 'stream_end');
    expect(ends).toHaveLength(3);
    expect(ends).toContainEqual(expect.objectContaining({ stream: 3, target: `127.0.0.2:${target.port}`, bytesUp: 0, bytesDown: 0, reason: 'ERR_POLICY_DENIED' }));
    expect(ends).toContainEqual(
      expect.objectContaining({ session: 1, stream: 1, client: '127.0.0.1', command: 'connect', route: 'direct', target: `127.0.0.1:${target.port}`, bytesUp: 1000, bytesDown: 1000, reason: 'client_closed', durationMs: expect.any(Number) }),
    );
    expect(ends).toContainEqual(expect.objectContaining({ stream: 2, route: 'hop', bytesUp: 300, bytesDown: 300 }));
    expect(recs).toContainEqual(expect.objectContaining({ msg: 'session_end', closeCode: 1000, closeReason: 'done', streams: 3, bytesUp: 1300 }));
    expect(recs.some((r) => typeof r.msg === 'string' && r.msg.includes('refused 127.0.0.1: ERR_UNAUTHORIZED'))).toBe(true);
  });

  it('socks: --metrics serves counters and gauges; --user-file keeps the password off argv and out of logs', async () => {
    const users = join(dir, 'users');
    await writeFile(users, '# operators\nfile-user:file-secret-pw\n');
    const cli = runCli(['socks', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--user-file', users, '--rules', await rulesFile()], {
      WSOCKS_USER: 'env-user:env-secret-pw',
    });
    const banner = await cli.banner;
    const proxy = /listening on (127\.0\.0\.1:\d+)/.exec(banner)![1]!;
    const metricsUrl = /metrics on (http:\S+)/.exec(banner)![1]!;
    for (const cred of ['file-user:file-secret-pw', 'env-user:env-secret-pw']) {
      expect((await curl(['--socks5-hostname', proxy, '--proxy-user', cred, `http://127.0.0.1:${http.port}/`])).stdout).toBe('obs ok');
    }
    await curl(['--socks5-hostname', proxy, '--proxy-user', 'file-user:file-secret-pw', 'http://www.blocked.test/']);
    const m = parseMetrics(await (await fetch(metricsUrl)).text());
    expect(m.get('wsocks_socks_events_total{event="request",version="5",command="connect",code=""}')).toBe(2);
    expect(m.get('wsocks_socks_events_total{event="denied",version="5",command="connect",code="ERR_TARGET_DENIED"}')).toBe(1);
    expect(m.has('wsocks_socks_connections')).toBe(true);
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    expect(cli.stderr()).not.toMatch(/secret-pw/);
    expect(records(cli.stderr())).toContainEqual(expect.objectContaining({ msg: 'denied', user: 'file-user', code: 'ERR_TARGET_DENIED' }));
  });

  async function rulesFile(): Promise<string> {
    const f = join(dir, 'socks.rules');
    await writeFile(f, `deny to *.blocked.test\nallow from 127.0.0.0/8 to 127.0.0.0/8 port ${http.port}\n`);
    return f;
  }
});
