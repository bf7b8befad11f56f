/** `wsocks bridge` as an operator runs it: SIGTERM drains (readyz 503, refusals 1001, streams finish), then exit 0. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDataFrame, encodeDataFrame } from '../../shared/protocol/frame.ts';
import { startEcho } from '../helpers/net.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';
import { httpGet, runCli, type Cli } from '../helpers/cli.ts';

/** Opens stream `id` to the echo server and waits for `opened`. */
async function openEcho(s: RawSession, id: number, port: number): Promise<void> {
  s.send({ type: 'open', id, host: '127.0.0.1', port, window: 1 << 20 });
  const m = await s.next((x) => x.id === id && (x.type === 'opened' || x.type === 'error'));
  expect(m.type).toBe('opened');
}

/** Sends `text` on stream `id` and resolves with what comes back once it is that long. */
async function echo(s: RawSession, id: number, text: string): Promise<string> {
  const before = s.frames.length;
  s.ws.send(encodeDataFrame(id, Buffer.from(text)));
  for (;;) {
    const got = s.frames.slice(before).map((f) => decodeDataFrame(f)!).filter((f) => f.id === id);
    const str = Buffer.concat(got.map((f) => f.data)).toString();
    if (str.length >= text.length) return str;
    await new Promise<void>((resolve) => s.ws.once('message', () => resolve()));
  }
}

describe('wsocks bridge: SIGTERM drains', () => {
  let dir: string;
  let target: Awaited<ReturnType<typeof startEcho>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-drain-'));
    target = await startEcho();
  });
  afterAll(async () => {
    await target.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function startBridge(config: Record<string, unknown>): Promise<{ cli: Cli; url: string; http: string }> {
    const file = join(dir, `bridge-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, ...config }));
    const cli = runCli(['bridge', '--config', file]);
    const m = /listening on (wss?):\/\/(127\.0\.0\.1:\d+)\//.exec(await cli.banner);
    expect(m, cli.stderr()).not.toBeNull();
    return { cli, url: `${m![1]}://${m![2]}/`, http: `http://${m![2]}` };
  }

  it('keeps open streams flowing, refuses new sessions with 1001, closes each with 1001 when its streams end, exits 0', async () => {
    const { cli, url, http } = await startBridge({ drainTimeoutMs: 600_000 });
    expect(await httpGet(`${http}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
    expect(await httpGet(`${http}/readyz`)).toEqual({ status: 200, body: 'ready\n' });
    const busy = await rawSession(url);
    const idle = await rawSession(url);
    await openEcho(busy, 1, target.port);
    expect(await echo(busy, 1, 'before')).toBe('before');

    cli.child.kill('SIGTERM');
    await cli.waitErr(/draining/);
    // The idle session is told at once; the busy one keeps its stream.
    expect(await idle.closed).toEqual({ code: 1001, reason: 'ERR_SHUTTING_DOWN the bridge is shutting down' });
    expect(await httpGet(`${http}/readyz`)).toEqual({ status: 503, body: 'draining\n' });
    expect((await httpGet(`${http}/healthz`)).status).toBe(200);
    const late = await rawSession(url, { waitHello: false });
    expect(await late.closed).toEqual({ code: 1001, reason: 'ERR_SHUTTING_DOWN the bridge is shutting down' });
    expect(late.messages).toEqual([]);
    expect(await echo(busy, 1, 'during the drain')).toBe('during the drain');
    expect(busy.ws.readyState).toBe(busy.ws.OPEN);

    busy.send({ type: 'close', id: 1 });
    expect(await busy.closed).toEqual({ code: 1001, reason: 'ERR_SHUTTING_DOWN the bridge is shutting down' });
    expect(await cli.exit).toBe(0);
    expect(cli.stderr()).toMatch(/drained/);
    // Nothing listens any more.
    await expect(fetch(`${http}/healthz`)).rejects.toThrow();
  });

  it('closes sessions whose streams outlive drainTimeoutMs, with 1001 and the reason', async () => {
    const { cli, url } = await startBridge({ drainTimeoutMs: 200 });
    const s = await rawSession(url);
    await openEcho(s, 1, target.port);
    cli.child.kill('SIGTERM');
    expect(await s.closed).toEqual({ code: 1001, reason: 'ERR_SHUTTING_DOWN the bridge is shutting down (drain deadline)' });
    expect(await cli.exit).toBe(0);
    expect(cli.stderr()).toMatch(/drain deadline passed: closing 1 sessions with 1 streams/);
  });

  it('a second signal during the drain closes everything at once', async () => {
    const { cli, url } = await startBridge({ drainTimeoutMs: 600_000 });
    const s = await rawSession(url);
    await openEcho(s, 1, target.port);
    cli.child.kill('SIGINT');
    await cli.waitErr(/draining/);
    cli.child.kill('SIGINT');
    expect((await s.closed).code).not.toBe(1000);
    expect(await cli.exit).toBe(0);
  });
});
