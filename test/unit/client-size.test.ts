/**
 * `wsocks/client` alone, bundled and minified for a browser the way an application's bundler would (vite), stays
 * under its budget gzipped: no zod, no Node modules.
 */
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { build, type Rolldown } from 'vite';
import { expect, it } from 'vitest';

const BUDGET = 12_000;

it(`wsocks/client is under ${BUDGET / 1000} kB minified and gzipped`, async () => {
  const out = (await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: true,
      lib: { entry: join(import.meta.dirname, '../../web/client/index.ts'), formats: ['es'], fileName: 'client' },
      rollupOptions: { external: () => false },
    },
  })) as Rolldown.RolldownOutput[];
  const chunks = out.flatMap((o) => o.output).filter((c): c is Rolldown.OutputChunk => c.type === 'chunk');
  expect(chunks).toHaveLength(1);
  const code = chunks[0]!.code;
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`wsocks/client: ${code.length} bytes minified, ${gz} gzipped (budget ${BUDGET})`);
  expect(code).not.toMatch(/node:|\bzod\b|ZodError/);
  expect(gz).toBeLessThan(BUDGET);
}, 60_000);
