#!/usr/bin/env node
// Makes sure the Debian programs that tests (or benchmarks) talk to are installed. As root with apt-get it
// installs what is missing; otherwise it names what is missing and how to get it, and exits 1.
//   node scripts/ensure-system-deps.js            what `npm test` needs
//   node scripts/ensure-system-deps.js --bench    what `npm run bench` can use (missing peers are skipped there)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureDanteGssapi } from './build-dante-gssapi.js';

const NEEDS = {
  test: [
    { program: 'curl', pkg: 'curl' },
    { program: 'python3', pkg: 'python3' },
    { program: 'danted', pkg: 'dante-server' },
    { program: 'sshd', pkg: 'openssh-server' },
    { program: 'ssh', pkg: 'openssh-client' },
    { program: 'ssh-keygen', pkg: 'openssh-client' },
    { program: 'chromium', pkg: 'chromium' },
    // the policy battery runs in a network namespace with only lo when root (unshare -n, ip link set lo up)
    { program: 'unshare', pkg: 'util-linux' },
    { program: 'ip', pkg: 'iproute2' },
    // deploy/ configs are exercised with the real proxies on loopback
    { program: 'nginx', pkg: 'nginx' },
    { program: 'haproxy', pkg: 'haproxy' },
    // noVNC in Chromium through the websockify endpoint to a real VNC server (an X server served over RFB)
    { program: 'Xtigervnc', pkg: 'tigervnc-standalone-server' },
    { program: 'xsetroot', pkg: 'x11-xserver-utils' },
    // the SOCKS server's identd check (RFC 1413) meets a real identd
    { program: 'oidentd', pkg: 'oidentd' },
    // the pcapng export is opened with Wireshark's dissector; field names are checked against `tshark -G fields`
    { program: 'tshark', pkg: 'tshark' },
    // GSS-API tests make a Kerberos realm on loopback (test/helpers/krb5-realm.ts)
    { program: 'krb5kdc', pkg: 'krb5-kdc' },
    { program: 'kdb5_util', pkg: 'krb5-kdc' },
    { program: 'kadmin.local', pkg: 'krb5-admin-server' },
    { program: 'kinit', pkg: 'krb5-user' },
    // the GSS-API contexts of the bridge and the SOCKS server (server/gssapi/gss-helper.py)
    { program: 'python3-gssapi', pkg: 'python3-gssapi', check: () => pythonHas('gssapi') },
  ],
  bench: [
    { program: 'microsocks', pkg: 'microsocks' },
    { program: 'danted', pkg: 'dante-server' },
    { program: 'websockify', pkg: 'websockify' },
  ],
};

const bench = process.argv.includes('--bench');
const wanted = bench ? NEEDS.bench : NEEDS.test;

function has(program) {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin']);
  return dirs.some((d) => d && existsSync(`${d}/${program}`));
}

/** Whether Debian's python3 (where python3-* packages install) imports `module`. */
function pythonHas(module) {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Last step for `npm test`: Dante built with GSS-API (Debian's danted has none), cached in ~/.cache/wsocks after the
 * first build (about 3 minutes on 2 cores); test/integration/gssapi-dante.test.ts uses it.
 */
function done() {
  if (!bench) {
    try {
      ensureDanteGssapi();
    } catch (err) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
  }
  process.exit(0);
}

const present = (w) => (w.check ? w.check() : has(w.program));
const missing = wanted.filter((w) => !present(w));
if (missing.length === 0) done();

const pkgs = [...new Set(missing.map((m) => m.pkg))];
const isRoot = process.getuid?.() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (!isRoot || !hasApt) {
  process.stderr.write(
    `missing: ${missing.map((m) => m.program).join(', ')}\n` +
      `install them with: sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}\n`,
  );
  process.exit(bench ? 0 : 1);
}

process.stderr.write(`installing Debian packages: ${pkgs.join(' ')}\n`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  // wireshark-common asks whether non-root users may capture; answer "no" so that nothing waits for stdin.
  if (pkgs.includes('tshark')) {
    execFileSync('debconf-set-selections', [], { input: 'wireshark-common wireshark-common/install-setuid boolean false\n', stdio: ['pipe', 'ignore', 'inherit'] });
  }
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  // With recommends: Chromium's fonts (fonts-liberation) come that way, and xterm.js measures text with them.
  execFileSync('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=600', ...pkgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
} catch (err) {
  process.stderr.write(`apt-get failed: ${err.message}\n`);
  process.exit(bench ? 0 : 1);
}
const still = missing.filter((m) => !present(m));
if (still.length > 0) {
  process.stderr.write(`still missing after install: ${still.map((m) => m.program).join(', ')}\n`);
  process.exit(bench ? 0 : 1);
}
done();
