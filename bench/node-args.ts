/** Extra node options for a process the bench starts, from an env variable (BENCH_BRIDGE_NODE_ARGS and the like). */
export function nodeArgsFrom(name: string): string[] {
  return process.env[name]?.split(' ').filter(Boolean) ?? [];
}
