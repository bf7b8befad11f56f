/** The special-purpose table of docs/security.md, generated from shared/net/special-purpose.ts. */
import { SPECIAL_PURPOSE_BLOCKS } from '../../shared/net/special-purpose.ts';

export function specialPurposeTable(): string {
  const rows = SPECIAL_PURPOSE_BLOCKS.map((b) => {
    const global = b.global === 'n/a' ? 'N/A' : b.global ? 'yes' : 'no';
    const verdict = b.global === true ? 'allowed (unless inside a denied block)' : 'denied';
    return `| \`${b.cidr.text}\` | ${b.name} | ${b.rfc} | ${global} | ${verdict} |`;
  });
  return ['| block | name | RFC | globally reachable | by default |', '|---|---|---|---|---|', ...rows].join('\n');
}

// `npx tsx test/helpers/security-table.ts` prints it, to paste into docs/security.md.
if (import.meta.url === `file://${process.argv[1]}`) console.log(specialPurposeTable());
