#!/usr/bin/env node
// Dante built WITH GSS-API, from Debian's own source package (Debian 12's `danted` is built `--without-gssapi`, so
// `socksmethod: gssapi` is refused there). The GSS-API tests use it as a third-party SOCKS5 GSS-API server (sockd)
// and client (libdsocksd, LD_PRELOADed into curl). Nothing of the host's apt configuration changes: the deb-src line
// lives in a temporary sources list with its own lists directory.
//
//   node scripts/build-dante-gssapi.js     builds (or finds) it and prints the cache directory
//
// The result is cached outside the git tree in $WSOCKS_CACHE_DIR or ~/.cache/wsocks (XDG_CACHE_HOME respected), as
// dante-gssapi-<Debian version>/ holding `sockd`, `libdsocksd.so.0` and `BUILD-INFO`; an existing complete build is
// reused without touching the network. The first build takes about 2-3 minutes on 2 cores (plus installing the build
// tools: autoconf automake libtool-bin flex bison libkrb5-dev dpkg-dev gcc make, which needs root and apt-get).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ARCHIVE = 'http://deb.debian.org/debian';
const SUITE = 'bookworm';
const BUILD_TOOLS = [
  { program: 'autoreconf', pkg: 'autoconf' },
  { program: 'automake', pkg: 'automake' },
  { program: 'libtoolize', pkg: 'libtool-bin' },
  { program: 'flex', pkg: 'flex' },
  { program: 'bison', pkg: 'bison' },
  { program: 'krb5-config', pkg: 'libkrb5-dev' },
  { program: 'dpkg-source', pkg: 'dpkg-dev' },
  { program: 'gcc', pkg: 'gcc' },
  { program: 'make', pkg: 'make' },
];
// GSS-API on; what the tests do not need off, so that the build depends on nothing more than the tools above.
const CONFIGURE = ['--with-gssapi', '--without-pam', '--without-libwrap', '--without-upnp', '--without-sasl', '--without-ldap', '--without-bsdauth'];

/** Where builds are cached. */
export function cacheRoot() {
  if (process.env.WSOCKS_CACHE_DIR) return process.env.WSOCKS_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wsocks');
}

/** The newest complete cached build, or undefined. */
export function findDanteGssapi() {
  const root = cacheRoot();
  if (!existsSync(root)) return undefined;
  const dirs = readdirSync(root)
    .filter((d) => d.startsWith('dante-gssapi-') && existsSync(join(root, d, 'BUILD-INFO')))
    .sort();
  const dir = dirs.at(-1);
  return dir ? paths(join(root, dir)) : undefined;
}

function paths(dir) {
  return { dir, sockd: join(dir, 'sockd'), libdsocks: join(dir, 'libdsocksd.so.0') };
}

function has(program) {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin']);
  return dirs.some((d) => d && existsSync(`${d}/${program}`));
}

/** Runs a program; on failure throws with the command and the tail of its output. */
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`dante-gssapi build: \`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
  }
  return r.stdout;
}

function installBuildTools(log) {
  const missing = BUILD_TOOLS.filter((t) => !has(t.program));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`dante-gssapi build: missing build tools ${missing.map((t) => t.program).join(', ')}; install them with: sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  log(`installing Debian packages to build Dante: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', ...pkgs], { env });
  try {
    install();
  } catch {
    run('apt-get', ['update', '-qq', '-o', 'DPkg::Lock::Timeout=600'], { env });
    install();
  }
}

/**
 * Returns the cached build, building it first if there is none. Throws with the reason when it cannot (no network to
 * deb.debian.org, not root and build tools missing, a compile error...).
 */
export function ensureDanteGssapi(log = (line) => process.stderr.write(`${line}\n`)) {
  const found = findDanteGssapi();
  if (found) return found;
  installBuildTools(log);
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  // Built next to the cache (one file system: the finished directory is renamed into place, whole or not at all).
  const work = mkdtempSync(join(root, '.build-'));
  try {
    // A private apt "configuration": only a deb-src line, its own lists; the host's sources and lists stay as they are.
    const lists = join(work, 'lists');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    const sources = join(work, 'sources.list');
    writeFileSync(sources, `deb-src ${ARCHIVE} ${SUITE} main\n`);
    const apt = ['-o', `Dir::Etc::SourceList=${sources}`, '-o', 'Dir::Etc::SourceParts=/dev/null', '-o', `Dir::State::Lists=${lists}`];
    log(`fetching Dante's source package from ${ARCHIVE} ${SUITE}`);
    run('apt-get', [...apt, 'update', '-qq']);
    const dl = join(work, 'dl');
    mkdirSync(dl);
    run('apt-get', [...apt, 'source', '--download-only', '-qq', 'dante'], { cwd: dl });
    const dsc = readdirSync(dl).find((f) => f.endsWith('.dsc'));
    if (!dsc) throw new Error('dante-gssapi build: apt-get source fetched no .dsc');
    const version = dsc.replace(/^dante_/, '').replace(/\.dsc$/, '');
    const src = join(work, 'src');
    run('dpkg-source', ['--no-check', '-x', join(dl, dsc), src]); // applies Debian's patches
    log(`building Dante ${version} with GSS-API (about 2-3 minutes)`);
    run('autoreconf', ['-fi'], { cwd: src }); // Debian's patches touch configure.ac (dh_autoreconf does the same)
    const configured = run('./configure', CONFIGURE, { cwd: src });
    const status = configured.split('\n').filter((l) => /^(GSSAPI|KRB5):/.test(l)).map((l) => l.replace(/\s+/g, ' ')).join('\n');
    if (!/^GSSAPI: Enabled/m.test(status)) throw new Error(`dante-gssapi build: ./configure did not enable GSS-API:\n${status || configured.slice(-2000)}`);
    run('make', ['-j2'], { cwd: src });
    const out = join(work, 'out');
    mkdirSync(out);
    copyFileSync(join(src, 'sockd', 'sockd'), join(out, 'sockd'));
    chmodSync(join(out, 'sockd'), 0o755);
    copyFileSync(join(src, 'dlib', '.libs', 'libdsocksd.so.0.0.0'), join(out, 'libdsocksd.so.0'));
    // Dante must say it was linked with GSS-API; otherwise this build is no better than Debian's binary.
    const check = join(out, 'check.conf');
    writeFileSync(check, 'internal: 127.0.0.1 port = 1\nexternal: 127.0.0.1\nsocksmethod: gssapi\nclientmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n');
    const verify = spawnSync(join(out, 'sockd'), ['-V', '-f', check], { encoding: 'utf8' });
    rmSync(check);
    if (verify.status !== 0 || /linked with an external GSSAPI/i.test(`${verify.stdout}${verify.stderr}`)) {
      throw new Error(`dante-gssapi build: the built sockd still lacks GSS-API:\n${verify.stderr}`);
    }
    writeFileSync(
      join(out, 'BUILD-INFO'),
      `Dante ${version} from ${ARCHIVE} ${SUITE} (Debian source package, Debian's patches applied)\n` +
        `./configure ${CONFIGURE.join(' ')}\n${status}\nbuilt ${new Date().toISOString()}\n`,
    );
    const target = join(root, `dante-gssapi-${version}`);
    rmSync(target, { recursive: true, force: true });
    renameSync(out, target);
    log(`Dante with GSS-API cached in ${target}`);
    return paths(target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(`${ensureDanteGssapi().dir}\n`);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
