/**
 * Host name patterns: "example.com" matches that name, "*.example.com" any name below it (not the name itself),
 * "*" any name. Case-insensitive; a trailing dot is ignored.
 */
export type HostPattern = { kind: 'any' } | { kind: 'exact'; name: string } | { kind: 'suffix'; suffix: string };

const LABELS = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?))*$/;

export function parseHostPattern(text: string): HostPattern | null {
  const t = text.toLowerCase().replace(/\.$/, '');
  if (t === '*') return { kind: 'any' };
  if (t.startsWith('*.')) return LABELS.test(t.slice(2)) ? { kind: 'suffix', suffix: t.slice(1) } : null;
  return LABELS.test(t) ? { kind: 'exact', name: t } : null;
}

export function hostPatternMatches(pattern: HostPattern, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (pattern.kind === 'any') return true;
  if (pattern.kind === 'exact') return h === pattern.name;
  return h.endsWith(pattern.suffix) && h.length > pattern.suffix.length;
}
