import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { specialPurposeTable } from '../../helpers/security-table.ts';

describe('docs/security.md', () => {
  it('carries the special-purpose table exactly as shared/net/special-purpose.ts has it (npx tsx test/helpers/security-table.ts)', () => {
    const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
    const m = /<!-- special-purpose-table:start -->\n([\s\S]*?)\n<!-- special-purpose-table:end -->/.exec(doc);
    expect(m, 'the table markers').not.toBeNull();
    expect(m![1]).toBe(specialPurposeTable());
  });
});
