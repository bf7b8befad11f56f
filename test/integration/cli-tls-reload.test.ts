/** `wsocks bridge` with `tls` serves wss:// directly; SIGHUP reloads tokens and the certificate, refuses a bad file. */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { selfSigned } from '../helpers/tls-cert.ts';

/** Connects with `token`, trusting only `ca`; resolves with the close (or 'hello'), or the TLS error's code. */
async function attempt(url: string, ca: string, token: string): Promise<string> {
  const ws = new WebSocket(url, ['wsocks.v1'], { ca: readFileSync(ca), headers: { authorization: `Bearer ${token}` } });
  const result = await new Promise<string>((resolve) => {
    ws.once('message', (d) => resolve(JSON.parse(String(d)).type as string));
    ws.once('close', (code, reason) => resolve(`${code} ${String(reason)}`));
    ws.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  ws.terminate();
  if (ws.readyState !== ws.CLOSED) await once(ws, 'close');
  return result;
}

describe('wsocks bridge: TLS and SIGHUP reload', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-tls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves wss:// with the configured certificate; SIGHUP swaps tokens and certificate; a bad file changes nothing', async () => {
    const a = await selfSigned(dir, 'cert-a');
    const b = await selfSigned(dir, 'cert-b');
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    await copyFile(a.cert, live.cert);
    await copyFile(a.key, live.key);
    const file = join(dir, 'bridge.json');
    const config = (tokens: string[]) => JSON.stringify({ listen: '127.0.0.1:0', tokens, tls: live });
    await writeFile(file, config(['first-token-123']));
    const cli = runCli(['bridge', '--config', file]);
    const url = /listening on (wss:\/\/127\.0\.0\.1:\d+\/)/.exec(await cli.banner)?.[1];
    expect(url, cli.stderr()).toBeDefined();

    expect(await attempt(url!, a.cert, 'first-token-123')).toBe('hello');
    expect(await attempt(url!, b.cert, 'first-token-123')).toMatch(/SELF_SIGNED|UNABLE|CERT/);
    expect((await fetch(url!.replace('wss:', 'http:') + 'healthz').catch((e: Error) => e)) instanceof Error).toBe(true);

    // Reload: new token, new certificate.
    await copyFile(b.cert, live.cert);
    await copyFile(b.key, live.key);
    await writeFile(file, config(['second-token-456']));
    cli.child.kill('SIGHUP');
    await cli.waitErr(/SIGHUP: reloaded/);
    expect(await attempt(url!, b.cert, 'second-token-456')).toBe('hello');
    expect(await attempt(url!, b.cert, 'first-token-123')).toMatch(/^4401 ERR_UNAUTHORIZED/);
    expect(await attempt(url!, a.cert, 'second-token-456')).toMatch(/SELF_SIGNED|UNABLE|CERT/);

    // A bad file: refused with the reason, the old config stays.
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:0', tokens: ['short'], tls: live }));
    cli.child.kill('SIGHUP');
    await cli.waitErr(/reload refused.*tokens\.0/);
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:0', tokens: ['third-token-789'], tls: { cert: join(dir, 'missing.crt'), key: live.key } }));
    cli.child.kill('SIGHUP');
    await cli.waitErr(/reload refused.*tls\.cert: .*missing\.crt: ENOENT/);
    expect(await attempt(url!, b.cert, 'second-token-456')).toBe('hello');
    expect(await attempt(url!, b.cert, 'third-token-789')).toMatch(/^4401/);

    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    expect(cli.stderr()).not.toMatch(/first-token|second-token|third-token/);
  });

  it('refuses to start with an unreadable certificate (exit 2, naming the file)', async () => {
    const file = join(dir, 'bad-tls.json');
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:0', tls: { cert: join(dir, 'nope.crt'), key: join(dir, 'nope.key') } }));
    const cli = runCli(['bridge', '--config', file]);
    expect(await cli.exit).toBe(2);
    expect(cli.stderr()).toMatch(/tls\.cert: .*nope\.crt: ENOENT/);
  });
});
