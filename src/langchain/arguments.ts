/**
 * Tool argument schemas: the argument names a schema declares (to check a
 * policy against its tool), and the arguments a call will act on.
 */
import { toJsonSchema } from '@langchain/core/utils/json_schema';
import { interopSafeParse, interopSafeParseAsync, isInteropZodSchema } from '@langchain/core/utils/types';
import { isPlainObject } from './credentials.ts';

/** Top-level argument names a tool schema declares, or undefined if it declares none. */
export function argumentNames(schema: unknown): Set<string> | undefined {
  let json: unknown = schema;
  try {
    if (isInteropZodSchema(schema)) json = toJsonSchema(schema);
  } catch {
    return undefined;
  }
  const props = isPlainObject(json) ? json.properties : undefined;
  return isPlainObject(props) ? new Set(Object.keys(props)) : undefined;
}

export type ParsedArgs = { ok: true; args: unknown } | { ok: false; reason: string };

/**
 * The arguments a tool will act on: the model's arguments run through the
 * tool's zod schema (which may trim, normalise, coerce or default them), so
 * that templates and constraints see exactly what the tool sees. Arguments
 * the schema refuses are a denial (fail closed); the reason names the fields,
 * never their values. Tools with a JSON schema or none are checked as given.
 *
 * A schema that may run code of the tool's author (refinements, transforms,
 * lazy or custom types, any zod 3 schema) is parsed asynchronously, as
 * LangChain parses it: a synchronous parse would start an async refinement
 * and drop its promise, and a rejection of it would end the process. Plain
 * zod 4 schemas (types and built-in checks only) are parsed synchronously:
 * no promise on the hot path.
 */
export function parseArguments(schema: unknown, raw: unknown): ParsedArgs | Promise<ParsedArgs> {
  if (!isInteropZodSchema(schema)) return { ok: true, args: raw };
  if (runsNoUserCode(schema)) return parsedArgs(interopSafeParse(schema, raw));
  return interopSafeParseAsync(schema, raw).then(parsedArgs, (): ParsedArgs => ({
    ok: false,
    reason: "arguments do not match the tool's schema (its checks failed)",
  }));
}

/** zod 4 types whose parsing runs no code of the schema's author (given children of the same kind). */
const PLAIN_TYPES = new Set([
  'string',
  'number',
  'int',
  'boolean',
  'bigint',
  'null',
  'undefined',
  'void',
  'any',
  'unknown',
  'never',
  'date',
  'nan',
  'literal',
  'enum',
  'template_literal',
  'object',
  'array',
  'tuple',
  'record',
  'map',
  'set',
  'union',
  'intersection',
  'optional',
  'nullable',
  'nonoptional',
  'readonly',
  'default',
  'prefault',
  'pipe',
  'success',
]);
const plainSchemas = new WeakMap<object, boolean>();

/** True when parsing `schema` cannot call a function of the schema's author (so cannot return a promise). */
function runsNoUserCode(schema: unknown, depth = 0): boolean {
  const z4 = (schema as { _zod?: { def?: Record<string, unknown> } } | null)?._zod;
  const def = z4?.def;
  if (!def || depth > 32) return false; // zod 3, or something unexpected: the safe way
  const known = plainSchemas.get(schema as object);
  if (known !== undefined) return known;
  let plain = PLAIN_TYPES.has(def.type as string);
  // Built-in checks (lengths, formats, trim, ...) are zod's own code; `custom` ones (refine, superRefine, check) are not.
  const checks = (def.checks ?? []) as { _zod?: { def?: { check?: string } } }[];
  if (plain && checks.some((c) => c?._zod?.def?.check === 'custom' || c?._zod?.def?.check === undefined)) plain = false;
  if (plain) {
    const children: unknown[] = [];
    for (const k of ['innerType', 'element', 'keyType', 'valueType', 'in', 'out', 'left', 'right', 'rest', 'catchall'] as const) {
      if (def[k] !== undefined) children.push(def[k]);
    }
    for (const k of ['options', 'items'] as const) if (Array.isArray(def[k])) children.push(...(def[k] as unknown[]));
    if (def.shape !== undefined) children.push(...Object.values(def.shape as Record<string, unknown>));
    plain = children.every((c) => runsNoUserCode(c, depth + 1));
  }
  plainSchemas.set(schema as object, plain);
  return plain;
}

function parsedArgs(r: { success: boolean; data?: unknown; error?: unknown }): ParsedArgs {
  if (r.success) return { ok: true, args: r.data };
  const issues = (r.error as { issues?: { path?: PropertyKey[] }[] }).issues ?? [];
  const fields = [...new Set(issues.map((i) => (i.path ?? []).map(String).join('.') || '(arguments)'))].slice(0, 5);
  return { ok: false, reason: `arguments do not match the tool's schema (${fields.join(', ') || 'unknown field'})` };
}
