import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BridgeConfigSchema } from '../../../server/bridge/config.ts';

/** Every config example in docs/compat.md is a valid bridge config, exactly as printed. */
describe('docs/compat.md config examples', () => {
  const doc = readFileSync(new URL('../../../docs/compat.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('has one for websockify and one for Wisp, and each parses', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const parsed = BridgeConfigSchema.safeParse(JSON.parse(block));
      expect(parsed.success, parsed.error?.message).toBe(true);
    }
    const compat = blocks.map((b) => Object.keys((JSON.parse(b) as { compat?: object }).compat ?? {}));
    expect(compat.flat()).toEqual(expect.arrayContaining(['websockify', 'wisp']));
  });
});
