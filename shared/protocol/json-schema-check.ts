/**
 * A validator for the small subset of JSON Schema that `z.toJSONSchema` emits for the protocol's messages. The
 * browser client checks every message from the bridge with it and the generated schema
 * (bridge-message-json-schema.ts), instead of carrying zod: the zod schemas in messages.ts stay the single source of
 * truth, the generator (scripts/gen-protocol-schema.ts) refuses any keyword not listed here, and a test checks that
 * the generated file is current and that this validator agrees with zod.
 */

type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** A JSON Schema node, as far as this validator reads one. */
export interface JsonSchema {
  type?: JsonType | readonly JsonType[];
  const?: unknown;
  enum?: readonly unknown[];
  anyOf?: readonly JsonSchema[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: false;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

/** Every keyword the validator understands; the generator rejects a schema that uses any other. */
export const JSON_SCHEMA_KEYWORDS: ReadonlyArray<keyof JsonSchema> = [
  'type', 'const', 'enum', 'anyOf', 'properties', 'required', 'additionalProperties', 'items',
  'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems',
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeIs(type: JsonType, v: unknown): boolean {
  switch (type) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'null':
      return v === null;
    default:
      return typeof v === type;
  }
}

function typeOk(s: JsonSchema, v: unknown): boolean {
  if (s.type === undefined) return true;
  return typeof s.type === 'string' ? typeIs(s.type, v) : s.type.some((t) => typeIs(t, v));
}

/** Whether `value` matches `schema`. */
export function matchesSchema(s: JsonSchema, v: unknown): boolean {
  if (!typeOk(s, v)) return false;
  if ('const' in s && v !== s.const) return false;
  if (s.enum && !s.enum.includes(v)) return false;
  if (s.anyOf && !s.anyOf.some((o) => matchesSchema(o, v))) return false;
  if (typeof v === 'number' && ((s.minimum ?? v) > v || (s.maximum ?? v) < v)) return false;
  if (typeof v === 'string' && (v.length < (s.minLength ?? 0) || v.length > (s.maxLength ?? Infinity))) return false;
  if (Array.isArray(v)) {
    if (v.length < (s.minItems ?? 0) || v.length > (s.maxItems ?? Infinity)) return false;
    if (s.items && !v.every((x) => matchesSchema(s.items!, x))) return false;
  }
  if (isObject(v)) {
    const props = s.properties ?? {};
    if (s.required?.some((k) => !(k in v))) return false;
    for (const [k, x] of Object.entries(v)) {
      const p = Object.hasOwn(props, k) ? props[k] : undefined;
      if (p ? !matchesSchema(p, x) : s.additionalProperties === false) return false;
    }
  }
  return true;
}
