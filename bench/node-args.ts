import { join } from 'node:path';

/** Extra node options for a process the bench starts, from an env variable (BENCH_BRIDGE_NODE_ARGS and the like). */
export function nodeArgsFrom(name: string): string[] {
  return process.env[name]?.split(' ').filter(Boolean) ?? [];
}

/**
 * The environment that makes a process started from checkout `root` compile it (through tsx) with that checkout's
 * tsconfig.json. tsx applies the tsconfig of its working directory only to the files that tsconfig includes: a
 * BENCH_BASE checkout's bridge, started from the bench's directory, was compiled without it (esbuild's defaults,
 * e.g. class fields as assignments), unlike the bench's own; docs/performance.md, "Position bias".
 */
export function tsxTsconfig(root: string): { TSX_TSCONFIG_PATH: string } {
  return { TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') };
}
