// `npm run build` (run by prepack): compiles the package's ESM JavaScript and .d.ts into dist/ (tsconfig.build.json).
// The .d.ts keep the sources' relative `.ts` specifiers; they are rewritten to `.js` here, which every consumer
// setting resolves to the .d.ts next to it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
for (const dir of ['shared', 'server', 'web']) rmSync(join(root, 'dist', dir), { recursive: true, force: true });
execFileSync('tsc', ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', shell: process.platform === 'win32' });

const RELATIVE_TS = /((?:from |import\()\s*['"]\.{1,2}\/[^'"]*)\.ts(['"])/g;
for (const entry of readdirSync(join(root, 'dist'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  const out = text.replace(RELATIVE_TS, '$1.js$2');
  if (out !== text) writeFileSync(file, out);
}

// Files the compiled code loads by path next to itself.
copyFileSync(join(root, 'server/gssapi/gss-helper.py'), join(root, 'dist/server/gssapi/gss-helper.py'));
