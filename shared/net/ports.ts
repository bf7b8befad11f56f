/** Port ranges such as "80", "1-1023" or "8000-8100". */
export interface PortRange {
  from: number;
  to: number;
}

export function parsePortRange(text: string): PortRange | null {
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from > 65535 || to > 65535 || from > to) return null;
  return { from, to };
}

export function inAnyPortRange(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}
