/**
 * The browser client validates bridge messages with a JSON Schema generated from the zod schemas: the generated
 * file must be current, and the small validator must agree with zod on valid messages and on broken ones.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BRIDGE_MESSAGE_JSON_SCHEMA } from '../../../shared/protocol/bridge-message-json-schema.ts';
import { matchesSchema } from '../../../shared/protocol/json-schema-check.ts';
import { BridgeMessageSchema } from '../../../shared/protocol/messages.ts';
import { bridgeMessageSchemaModule, GENERATED_PATH } from '../../../scripts/gen-protocol-schema.ts';

const entry = { hop: 1, direction: 'sent', kind: 'socks5.greeting', hex: '05 01 00', at: 0.5, fields: [{ name: 'socks.version', label: 'VER', offset: 0, length: 1, hex: '05', value: 5, meaning: 'SOCKS5', spec: 'RFC 1928 §3' }] };
const valid: unknown[] = [
  { type: 'hello', version: 1, limits: { maxStreams: 8, maxMessageBytes: 65536, window: 1024 }, routes: ['a'], clientChains: true },
  { type: 'opened', id: 1, remoteAddress: '127.0.0.1', remotePort: 80, window: 65536 },
  { type: 'bound', id: 2, address: '::1', port: 1080 },
  { type: 'credit', id: 3, bytes: 1 },
  { type: 'end', id: 4294967295 },
  { type: 'close', id: 5 },
  { type: 'error', code: 'ERR_BAD_MESSAGE', message: 'x' },
  { type: 'error', id: 6, code: 'ERR_HOP_FAILED', message: 'x', hop: 2, replyCode: 5 },
  { type: 'transcript', id: 7, entry },
  { type: 'transcript', id: 7, entry: { ...entry, note: 'n', fields: [{ ...entry.fields[0], value: 'text' }] } },
];

describe('the bridge messages JSON Schema the client checks with', () => {
  it('is generated from the zod schemas and is current (run `npm run gen:schema` if not)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8')).toBe(bridgeMessageSchemaModule());
  });

  it('accepts what zod accepts', () => {
    for (const m of valid) {
      expect(BridgeMessageSchema.safeParse(m).success).toBe(true);
      expect(matchesSchema(BRIDGE_MESSAGE_JSON_SCHEMA, m)).toBe(true);
    }
  });

  it('agrees with zod on mutated messages', () => {
    const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant([]), fc.constant({}), fc.constant(-1), fc.constant(2 ** 32));
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), junk), { minLength: 1, maxLength: 3 }), fc.boolean(), (base, edits, extra) => {
        const m = structuredClone(base) as Record<string, unknown>;
        const keys = Object.keys(m);
        for (const [i, v] of edits) m[keys[i % keys.length]!] = v;
        if (extra) m.extra = 1;
        const wire: unknown = JSON.parse(JSON.stringify(m)); // what the client can receive: no undefined, no NaN
        expect(matchesSchema(BRIDGE_MESSAGE_JSON_SCHEMA, wire)).toBe(BridgeMessageSchema.safeParse(wire).success);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
