/**
 * Third-party SOCKS servers on loopback, started per test file: Dante (`danted`) and OpenSSH dynamic forwarding
 * (`sshd` + `ssh -D`). Both need root here (Dante checks passwords against the system's users; sshd runs as root).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { freePort } from '../../server/net/listen.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDanteGssapi } from '../../scripts/build-dante-gssapi.js';

export interface Peer {
  port: number;
  /** Kills the peer (for "proxy dies" tests as well as cleanup). */
  stop(): Promise<void>;
  /** Sends a signal to the peer's whole process group (SIGSTOP/SIGCONT for hung-proxy tests), where it has one. */
  signal?(sig: NodeJS.Signals): void;
}

export const DANTE_USER = 'wsocks-test';
export const DANTE_PASSWORD = 'dante-pass-1';

const sbin = (p: string) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => `${d}/${p}`).find((f) => existsSync(f));

/** Daemons in their own process group (server/demo/daemon.ts): `start`, `kill` and `waitForPort` for the peers here. */
export { startDaemon as start, stopDaemon as kill, waitForPort } from '../../server/demo/daemon.ts';
import { startDaemon as start, stopDaemon as kill, waitForPort } from '../../server/demo/daemon.ts';

/**
 * Starts `cmd` (its files in the temporary `dir`) and waits for it on `port`. If it does not come up it is killed and
 * `dir` removed before the error goes up; `stop` does the same. `signal` reaches its whole process group.
 */
export async function startInDir(dir: string, cmd: string, args: string[], port: number, what: string, options: { env?: NodeJS.ProcessEnv; host?: string } = {}): Promise<Peer & { stderr: () => string; signal(sig: NodeJS.Signals): void }> {
  const { child, stderr } = start(cmd, args, options.env);
  const stop = async () => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, what, stderr, options.host);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, stderr, stop, signal: (sig) => process.kill(-child.pid!, sig) };
}

function ensureDanteUser(): void {
  if (spawnSync('id', [DANTE_USER]).status !== 0) {
    spawnSync('useradd', ['-M', '-s', '/usr/sbin/nologin', DANTE_USER], { stdio: 'inherit' });
  }
  spawnSync('chpasswd', [], { input: `${DANTE_USER}:${DANTE_PASSWORD}\n` });
}

/** Dante with CONNECT, BIND and UDP; `auth` makes it require RFC 1929 against the system user above. */
export async function startDante(options: { auth: boolean }): Promise<Peer> {
  if (options.auth) ensureDanteUser();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-dante-'));
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: ${options.auth ? 'username' : 'none'}
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect bind udpassociate bindreply udpreply }
`,
  );
  return startInDir(dir, sbin('danted')!, ['-f', conf, '-p', join(dir, 'pid'), '-N', '1'], port, 'danted');
}

/** Dante's `gssapi.enctype`: the levels it grants (`any`: its default, integrity or confidentiality). */
export type DanteEnctype = 'any' | 'clear' | 'integrity' | 'confidentiality';

/**
 * Dante built with GSS-API (scripts/build-dante-gssapi.js; built on first use, then cached) requiring GSS-API:
 * `socksmethod: gssapi` with the service's key in `keytab`, at the levels of `enctype`. `env` carries the realm's
 * KRB5_CONFIG. `necgssapi` turns on Dante's `clientcompatibility: necgssapi` (protection level exchanged in clear).
 */
export async function startDanteGssapi(options: { keytab: string; service: string; enctype: DanteEnctype; env: NodeJS.ProcessEnv; necgssapi?: boolean | undefined }): Promise<Peer & { stderr: () => string }> {
  const { sockd } = ensureDanteGssapi();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-dante-gss-'));
  const conf = join(dir, 'sockd.conf');
  const gss = `gssapi.servicename: ${options.service}\n  gssapi.keytab: FILE:${options.keytab}\n  gssapi.enctype: ${options.enctype}`;
  writeFileSync(
    conf,
    `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: gssapi
clientmethod: none
${process.env.DEBUG_DANTE ? 'debug: 2' : ''}
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  ${options.necgssapi ? 'clientcompatibility: necgssapi' : ''}
  ${gss}
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: error connect
  ${gss}
}
`,
  );
  return startInDir(dir, sockd, ['-f', conf, '-p', join(dir, 'pid'), '-N', '1'], port, 'sockd (GSS-API)', { env: options.env });
}

/** OpenSSH: an sshd on loopback and `ssh -D` to it; the -D port is a SOCKS4/4a/5 server without auth. */
export async function startSshSocks(): Promise<Peer> {
  mkdirSync('/run/sshd', { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-ssh-'));
  for (const k of ['hostkey', 'clientkey']) {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)], { stdio: 'inherit' });
  }
  spawnSync('cp', [join(dir, 'clientkey.pub'), join(dir, 'authorized_keys')]);
  const sshPort = await freePort();
  const sshd = start(sbin('sshd')!, [
    '-D', '-e', '-p', String(sshPort), '-h', join(dir, 'hostkey'),
    '-o', 'ListenAddress=127.0.0.1', '-o', `PidFile=${join(dir, 'sshd.pid')}`,
    '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`, '-o', 'StrictModes=no',
    '-o', 'PasswordAuthentication=no', '-o', 'PermitRootLogin=prohibit-password', '-o', 'AllowTcpForwarding=yes',
  ]);
  await waitForPort(sshPort, sshd.child, 'sshd', sshd.stderr);
  const port = await freePort();
  const ssh = start('ssh', [
    '-N', '-D', `127.0.0.1:${port}`, '-p', String(sshPort), '-i', join(dir, 'clientkey'),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR', `${process.env.USER ?? 'root'}@127.0.0.1`,
  ]);
  await waitForPort(port, ssh.child, 'ssh -D', ssh.stderr);
  return {
    port,
    stop: async () => {
      await kill(ssh.child);
      await kill(sshd.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * oidentd (RFC 1413) in the foreground on `address` port 113 (binding it needs root) or `port`, with an empty config: it answers
 * each query with the name of the user owning the connection.
 */
export async function startOidentd(address: string, port = 113): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-oidentd-'));
  const conf = join(dir, 'oidentd.conf');
  writeFileSync(conf, '');
  return startInDir(dir, sbin('oidentd')!, ['-i', '-S', '-a', address, '-p', String(port), '-C', conf], port, 'oidentd', { host: address });
}
