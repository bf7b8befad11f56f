#!/usr/bin/env node
// The `wsocks` command. Installed from npm it runs the compiled CLI (dist/, built at pack time) with plain node.
// In a git checkout, where the TypeScript sources sit next to this file, it runs them through tsx (a dev dependency),
// so that no build step is needed while developing.
import { existsSync } from 'node:fs';

const sources = new URL('../server/cli.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/server/cli.js'));
}
process.exitCode = await main(process.argv.slice(2));
