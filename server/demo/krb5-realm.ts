/**
 * A throw-away Kerberos realm on loopback, for the GSS-API tests and the demo's GSS-API hop: Debian's MIT KDC
 * (`krb5-kdc`) with its database, config, keytabs and credential caches all in one temporary directory, the KDC on a
 * free 127.0.0.1 port. Nothing of the host changes: programs find the realm through KRB5_CONFIG / KRB5_KDC_PROFILE,
 * which `env` carries. If any step fails, `startRealm` throws with the program's own words (tests then fail with
 * the reason; they never skip).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../net/listen.ts';
import { startDaemon, stopDaemon, waitForPort, type Daemon } from './daemon.ts';

export const REALM = 'WSOCKS.TEST';

export interface Realm {
  dir: string;
  realm: string;
  kdcPort: number;
  /** KRB5_CONFIG and KRB5_KDC_PROFILE: give these to every process that talks to the realm. */
  env: { KRB5_CONFIG: string; KRB5_KDC_PROFILE: string };
  /** Adds a principal with a random key and writes its keys to a keytab of its own; returns the keytab's path. */
  addPrincipal(name: string): string;
  /** Adds a principal with a password (for kinit). */
  addPrincipalWithPassword(name: string, password: string): void;
  /** kinit from a keytab into the given credential cache (a FILE: path is created). */
  kinit(principal: string, keytab: string, ccache: string): void;
  /** Runs a kadmin.local query (e.g. `delprinc -force x`). */
  kadmin(query: string): string;
  stop(): Promise<void>;
}

const SBIN = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const find = (p: string) => SBIN.map((d) => `${d}/${p}`).find((f) => existsSync(f));

/** Whether the programs a realm needs are installed (krb5-kdc, krb5-admin-server). */
export function canStartRealm(): boolean {
  return ['krb5kdc', 'kdb5_util', 'kadmin.local'].every((p) => find(p) !== undefined);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): string {
  const path = find(cmd);
  if (!path) throw new Error(`Kerberos test realm: ${cmd} is not installed (Debian krb5-kdc, krb5-admin-server, krb5-user; scripts/ensure-system-deps.js installs them)`);
  const r = spawnSync(path, args, { env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`Kerberos test realm: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  }
  return r.stdout;
}

/** Creates the realm's database, starts its KDC and waits until it answers on TCP. */
export async function startRealm(): Promise<Realm> {
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-krb5-'));
  // Dante's unprivileged worker (nobody) reads the config and its keytab from here.
  chmodSync(dir, 0o755);
  const kdcPort = await freePort();
  const env = { KRB5_CONFIG: join(dir, 'krb5.conf'), KRB5_KDC_PROFILE: join(dir, 'kdc.conf') };
  writeFileSync(
    env.KRB5_CONFIG,
    `[libdefaults]
  default_realm = ${REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  ticket_lifetime = 1h
  default_ccache_name = FILE:${join(dir, 'ccache-default')}
  default_keytab_name = FILE:${join(dir, 'keytab-default')}
  default_client_keytab_name = FILE:${join(dir, 'client-keytab-default')}

[realms]
  ${REALM} = {
    kdc = 127.0.0.1:${kdcPort}
  }

[domain_realm]
  localhost = ${REALM}
  127.0.0.1 = ${REALM}
`,
  );
  writeFileSync(
    env.KRB5_KDC_PROFILE,
    `[kdcdefaults]
  kdc_listen = 127.0.0.1:${kdcPort}
  kdc_tcp_listen = 127.0.0.1:${kdcPort}

[realms]
  ${REALM} = {
    database_name = ${join(dir, 'principal')}
    key_stash_file = ${join(dir, 'stash')}
    acl_file = ${join(dir, 'kadm5.acl')}
    kdc_listen = 127.0.0.1:${kdcPort}
    kdc_tcp_listen = 127.0.0.1:${kdcPort}
    max_life = 1h
    max_renewable_life = 0
  }

[logging]
  kdc = FILE:${join(dir, 'kdc.log')}
  default = FILE:${join(dir, 'kdc.log')}
`,
  );
  writeFileSync(join(dir, 'kadm5.acl'), '');
  let kdc: Daemon | undefined;
  try {
    run('kdb5_util', ['create', '-s', '-r', REALM, '-P', 'wsocks-master-key'], env);
    const kdcPath = find('krb5kdc');
    if (!kdcPath) throw new Error('Kerberos test realm: krb5kdc is not installed (Debian krb5-kdc)');
    kdc = startDaemon(kdcPath, ['-n', '-r', REALM], env);
    await waitForPort(kdcPort, kdc.child, 'Kerberos test realm: krb5kdc', kdc.stderr);
  } catch (err) {
    if (kdc) await stopDaemon(kdc.child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const kadmin = (query: string) => run('kadmin.local', ['-r', REALM, '-q', query], env);
  const child = kdc.child;
  return {
    dir,
    realm: REALM,
    kdcPort,
    env,
    kadmin,
    addPrincipal(name) {
      const keytab = join(dir, `${name.replace(/[^A-Za-z0-9.-]/g, '_')}.keytab`);
      kadmin(`addprinc -randkey ${name}`);
      kadmin(`ktadd -k ${keytab} ${name}`);
      chmodSync(keytab, 0o644);
      return keytab;
    },
    addPrincipalWithPassword(name, password) {
      kadmin(`addprinc -pw ${password} ${name}`);
    },
    kinit(principal, keytab, ccache) {
      run('kinit', ['-k', '-t', keytab, '-c', ccache, principal], env);
    },
    async stop() {
      await stopDaemon(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
