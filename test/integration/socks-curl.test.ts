import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocksServer } from '../../server/socks/server.ts';
import { curl, refusedPort, startHttp, type Running } from '../helpers/net.ts';

// curl is a real, independent SOCKS client: every mode it has, through our server, to a local HTTP server.
describe('curl through our SOCKS server', () => {
  const body = `hello through socks ${process.pid}`;
  let http: Running;
  let open: SocksServer;
  let withAuth: SocksServer;

  beforeAll(async () => {
    http = await startHttp(body);
    open = await SocksServer.start({ port: 0 });
    withAuth = await SocksServer.start({ port: 0, users: [{ username: 'alice', password: 's3cret' }] });
  });
  afterAll(async () => {
    await open.close();
    await withAuth.close();
    await http.close();
  });

  const modes = ['--socks4', '--socks4a', '--socks5', '--socks5-hostname'] as const;

  it.each(modes)('%s without --proxy-user', async (mode) => {
    // 127.0.0.1 for the IP modes; "localhost" for the modes where the proxy resolves the name.
    const host = mode === '--socks4a' || mode === '--socks5-hostname' ? 'localhost' : '127.0.0.1';
    const res = await curl([mode, `127.0.0.1:${open.address.port}`, `http://${host}:${http.port}/`]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe(body);
  });

  it.each(modes)('%s with --proxy-user against a server that needs no auth', async (mode) => {
    const res = await curl([mode, `127.0.0.1:${open.address.port}`, '--proxy-user', 'bob:pw', `http://127.0.0.1:${http.port}/`]);
    expect(res.stdout).toBe(body);
  });

  it.each(['--socks5', '--socks5-hostname'])('%s with the right --proxy-user against a server that requires it', async (mode) => {
    const res = await curl([mode, `127.0.0.1:${withAuth.address.port}`, '--proxy-user', 'alice:s3cret', `http://localhost:${http.port}/`]);
    expect(res.stdout).toBe(body);
  });

  it('fails with a wrong password, and without any, when auth is required', async () => {
    const wrong = await curl(['--socks5', `127.0.0.1:${withAuth.address.port}`, '--proxy-user', 'alice:nope', `http://127.0.0.1:${http.port}/`]);
    expect(wrong.code).toBe(97); // CURLE_PROXY
    expect(wrong.stderr).toMatch(/authentication failed|User was rejected/i);
    const none = await curl(['--socks5', `127.0.0.1:${withAuth.address.port}`, `http://127.0.0.1:${http.port}/`]);
    expect(none.code).toBe(97);
    expect(none.stderr).toMatch(/No authentication method was acceptable|authentication/i);
  });

  it('refuses SOCKS4 when passwords are required (it cannot send one)', async () => {
    const res = await curl(['--socks4', `127.0.0.1:${withAuth.address.port}`, `http://127.0.0.1:${http.port}/`]);
    expect(res.code).toBe(97);
    expect(res.stderr).toMatch(/rejected or failed|91/);
  });

  it('reports a refused target port the way curl understands it', async () => {
    const port = await refusedPort();
    const res = await curl(['--socks5', `127.0.0.1:${open.address.port}`, `http://127.0.0.1:${port}/`]);
    expect(res.code).toBe(97);
    // curl prints the REP code: 5 is "connection refused".
    expect(res.stderr).toMatch(/SOCKS5 connection to 127.0.0.1. \(5\)|Connection refused/i);
  });

  it('left no connection open', async () => {
    await open.whenIdle();
    await withAuth.whenIdle();
    expect(open.stats()).toEqual({ connections: 0, bindListeners: 0, udpAssociations: 0 });
  });
});
