/**
 * Argument constraints (docs/spec.md §6). A grant may constrain arguments of
 * the call; every constraint of every block along the chain must hold. A
 * missing argument never satisfies a constraint. Format version 1 keys are
 * top-level argument names and kinds 0-5; version 2 keys are argument paths
 * (./policy/path.ts) and kinds 6-18 (./policy/kinds.ts) are added.
 */
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import type { CborMap, CborValue } from './cbor.ts';
import { LIMITS } from './limits.ts';
import { checkV2, decodeV2, encodeV2, MAX_CONSTRAINT_NODES, V2_TYPES, validateV2, type Helpers } from './policy/kinds.ts';
import { isPath, parsePath, resolvePath } from './policy/path.ts';

export type Scalar = string | number | boolean | null;

export type Constraint =
  | { readonly type: 'exact'; readonly value: Scalar }
  | { readonly type: 'oneOf'; readonly values: readonly Scalar[] }
  | { readonly type: 'range'; readonly min?: number; readonly max?: number }
  | { readonly type: 'glob'; readonly pattern: string }
  | { readonly type: 'prefix'; readonly prefix: string }
  | { readonly type: 'pathUnder'; readonly path: string }
  // Format version 2 (docs/spec.md §6.2):
  | { readonly type: 'notOneOf'; readonly values: readonly Scalar[] }
  | { readonly type: 'decimal'; readonly min?: string; readonly max?: string }
  | { readonly type: 'length'; readonly min?: number; readonly max?: number }
  | { readonly type: 'each'; readonly constraint: Constraint }
  | { readonly type: 'subset'; readonly values: readonly Scalar[] }
  | { readonly type: 'contains'; readonly values: readonly Scalar[] }
  | { readonly type: 'cidr'; readonly cidr: string }
  | { readonly type: 'url'; readonly scheme?: string; readonly host?: string; readonly port?: number; readonly path?: string }
  | { readonly type: 'urlSafe' }
  | { readonly type: 'regex'; readonly pattern: string }
  | { readonly type: 'all'; readonly constraints: readonly Constraint[] }
  | { readonly type: 'anyOf'; readonly constraints: readonly Constraint[] }
  | { readonly type: 'not'; readonly constraint: Constraint };

/** Kinds a version-1 root may carry; the others need format version 2. */
export const V1_TYPES = new Set(['exact', 'oneOf', 'range', 'glob', 'prefix', 'pathUnder']);

export type Constraints = Readonly<Record<string, Constraint>>;

const KIND = { exact: 0, oneOf: 1, range: 2, glob: 3, prefix: 4, pathUnder: 5 } as const;
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Every text in a constraint: at most 256 bytes, no control character (C0, DEL, C1); patterns also non-empty. */
function checkString(s: unknown, what: string, Err: typeof MalformedError | typeof InvalidArgumentError, nonEmpty = false): string {
  if (typeof s !== 'string') throw new Err(`${what} must be a string`);
  if (byteLength(s) > LIMITS.maxStringBytes) throw new Err(`${what} is longer than ${LIMITS.maxStringBytes} bytes`);
  if (CONTROL.test(s)) throw new Err(`${what} contains a control character`);
  if (nonEmpty && s.length === 0) throw new Err(`${what}: the pattern is empty`);
  return s;
}

function checkScalar(v: unknown, what: string, Err: typeof MalformedError | typeof InvalidArgumentError): Scalar {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Err(`${what}: numbers in constraints are safe integers`);
    return v;
  }
  return checkString(v, what, Err);
}

/** A normalised absolute POSIX path: starts with "/", no empty, "." or ".." segments, no NUL. */
export function isCleanAbsolutePath(p: string): boolean {
  if (!p.startsWith('/') || p.includes('\0') || p.includes('\\')) return false;
  if (p === '/') return true;
  const segs = p.slice(1).split('/');
  return segs.every((s) => s !== '' && s !== '.' && s !== '..');
}

type Err = typeof MalformedError | typeof InvalidArgumentError;

/** Is `name` a constraint key of this format version (a v1 argument name, or a v2 argument path)? */
export function isConstraintKey(name: unknown, version: 1 | 2): name is string {
  return typeof name === 'string' && byteLength(name) <= LIMITS.maxStringBytes && (version === 1 ? ARG_NAME.test(name) : isPath(name));
}

/**
 * Validates a constraint given through the API or the config file (format
 * version 2 unless told otherwise: keys are argument paths, every kind).
 * Throws InvalidArgumentError (or MalformedError when decoding) with a reason.
 */
export function validateConstraint(name: string, c: unknown, Err: Err = InvalidArgumentError, version: 1 | 2 = 2): Constraint {
  if (!isConstraintKey(name, version)) {
    throw new Err(
      `constraint key ${JSON.stringify(name)} is not ${version === 1 ? 'a valid argument name' : 'an argument path (name, name.member, name[], at most 8 segments)'}`,
    );
  }
  const what = `constraint on "${name}"`;
  const out = validateOne(c, what, Err, 0, { nodes: 0 });
  if (version === 1 && !V1_TYPES.has(out.type)) throw new Err(`${what}: kind "${out.type}" needs format version 2`);
  return out;
}

const helpers: Helpers = {
  checkScalar,
  checkString,
  validate: (c, what, E, depth, budget) => validateOne(c, what, E, depth, budget),
  encode: (c) => encodeConstraint(c),
  decode: (raw, what) => decodeOne(raw, what),
  check: (c, v) => admits(c, v),
};

/** The members each kind's API form may have besides `type`. */
const MEMBERS: Readonly<Record<string, readonly string[]>> = {
  exact: ['value'],
  oneOf: ['values'],
  range: ['min', 'max'],
  glob: ['pattern'],
  prefix: ['prefix'],
  pathUnder: ['path'],
  notOneOf: ['values'],
  decimal: ['min', 'max'],
  length: ['min', 'max'],
  each: ['constraint'],
  subset: ['values'],
  contains: ['values'],
  cidr: ['cidr'],
  url: ['scheme', 'host', 'port', 'path'],
  urlSafe: [],
  regex: ['pattern'],
  all: ['constraints'],
  anyOf: ['constraints'],
  not: ['constraint'],
};

function validateOne(c: unknown, what: string, Err: Err, depth: number, budget: { nodes: number }): Constraint {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Err(`${what} must be an object`);
  if (++budget.nodes > MAX_CONSTRAINT_NODES) throw new Err(`${what}: more than ${MAX_CONSTRAINT_NODES} kinds in one constraint`);
  const o = c as Record<string, unknown>;
  const members = typeof o.type === 'string' && Object.prototype.hasOwnProperty.call(MEMBERS, o.type) ? MEMBERS[o.type]! : undefined;
  if (members === undefined) throw new Err(`${what}: unknown type ${JSON.stringify(o.type)} (${Object.keys(MEMBERS).join(', ')})`);
  for (const k of Object.keys(o)) if (k !== 'type' && !members.includes(k)) throw new Err(`${what}: unknown field ${JSON.stringify(k)} for type ${o.type}`);
  if (typeof o.type === 'string' && V2_TYPES.has(o.type)) return Object.freeze(validateV2(o, what, Err, depth, budget, helpers));
  switch (o.type) {
    case 'exact':
      return { type: 'exact', value: checkScalar(o.value, what, Err) };
    case 'oneOf': {
      if (!Array.isArray(o.values) || o.values.length === 0 || o.values.length > LIMITS.maxOneOfValues) {
        throw new Err(`${what}: oneOf needs 1 to ${LIMITS.maxOneOfValues} values`);
      }
      const values = o.values.map((v) => checkScalar(v, what, Err));
      if (new Set(values).size !== values.length) throw new Err(`${what}: oneOf lists a value twice`);
      return { type: 'oneOf', values };
    }
    case 'range': {
      const min = o.min ?? undefined;
      const max = o.max ?? undefined;
      for (const b of [min, max])
        if (b !== undefined && !Number.isSafeInteger(b))
          throw new Err(`${what}: range bounds are whole numbers (safe integers); for bounds like 10.50 use type decimal with text bounds`);
      if (min === undefined && max === undefined) throw new Err(`${what}: range needs min or max`);
      if (min !== undefined && max !== undefined && (min as number) > (max as number)) throw new Err(`${what}: range min > max`);
      return { type: 'range', ...(min !== undefined ? { min: min as number } : {}), ...(max !== undefined ? { max: max as number } : {}) };
    }
    case 'glob':
      return { type: 'glob', pattern: checkString(o.pattern, what, Err, true) };
    case 'prefix':
      return { type: 'prefix', prefix: checkString(o.prefix, what, Err, true) };
    case 'pathUnder': {
      const p = checkString(o.path, what, Err);
      if (!isCleanAbsolutePath(p)) throw new Err(`${what}: pathUnder needs a normalised absolute path`);
      return { type: 'pathUnder', path: p };
    }
    default:
      throw new Err(`${what}: unknown type ${JSON.stringify(o.type)}`);
  }
}

export function validateConstraints(cs: unknown, Err: Err = InvalidArgumentError, version: 1 | 2 = 2): Constraints {
  if (typeof cs !== 'object' || cs === null || Array.isArray(cs)) throw new Err('constraints must be an object keyed by argument name');
  const entries = Object.entries(cs);
  if (entries.length > LIMITS.maxConstraintsPerGrant) throw new Err(`more than ${LIMITS.maxConstraintsPerGrant} constraints in one grant`);
  const out: Record<string, Constraint> = {};
  // defineProperty, not assignment: an argument named "__proto__" must stay an own property.
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: validateConstraint(k, v, Err, version), enumerable: true, writable: true, configurable: true });
  return Object.freeze(out);
}

export function encodeConstraint(c: Constraint): CborValue[] {
  switch (c.type) {
    case 'exact':
      return [KIND.exact, c.value];
    case 'oneOf':
      return [KIND.oneOf, [...c.values]];
    case 'range':
      return [KIND.range, c.min ?? null, c.max ?? null];
    case 'glob':
      return [KIND.glob, c.pattern];
    case 'prefix':
      return [KIND.prefix, c.prefix];
    case 'pathUnder':
      return [KIND.pathUnder, c.path];
    default:
      return encodeV2(c, helpers);
  }
}

export function encodeConstraints(cs: Constraints): CborMap {
  return new Map(Object.entries(cs).map(([k, c]) => [k, encodeConstraint(c)]));
}

/** CBOR [kind, ...] -> the API object, not yet validated. */
function decodeOne(raw: CborValue, what: string): unknown {
  if (!Array.isArray(raw) || raw.length < 1) throw new MalformedError(`${what} is not [kind, ...]`);
  const [kind, a, b] = raw;
  const expectLen = (n: number) => {
    if (raw.length !== n) throw new MalformedError(`${what} has ${raw.length} items, expected ${n}`);
  };
  switch (kind) {
    case KIND.exact:
      expectLen(2);
      return { type: 'exact', value: a };
    case KIND.oneOf:
      expectLen(2);
      return { type: 'oneOf', values: a };
    case KIND.range:
      expectLen(3);
      if ((a !== null && typeof a !== 'number') || (b !== null && typeof b !== 'number'))
        throw new MalformedError(`${what}: range bounds are integers or null`);
      return { type: 'range', ...(a !== null ? { min: a } : {}), ...(b !== null ? { max: b } : {}) };
    case KIND.glob:
      expectLen(2);
      return { type: 'glob', pattern: a };
    case KIND.prefix:
      expectLen(2);
      return { type: 'prefix', prefix: a };
    case KIND.pathUnder:
      expectLen(2);
      return { type: 'pathUnder', path: a };
    default:
      return decodeV2(raw, what, helpers);
  }
}

export function decodeConstraints(v: CborValue, version: 1 | 2 = 1): Constraints {
  if (!(v instanceof Map) || v.size === 0) throw new MalformedError('constraints must be a non-empty map');
  const obj: Record<string, unknown> = {};
  const set = (k: string, c: unknown) => Object.defineProperty(obj, k, { value: c, enumerable: true, writable: true, configurable: true });
  for (const [k, raw] of v) {
    if (typeof k !== 'string') throw new MalformedError('constraint keys are argument names (text)');
    const kind = Array.isArray(raw) ? raw[0] : undefined;
    if (version === 1 && typeof kind === 'number' && kind > KIND.pathUnder) throw new MalformedError(`constraint on "${k}" has unknown kind ${kind}`);
    set(k, decodeOne(raw, `constraint on "${k}"`));
  }
  return validateConstraints(obj, MalformedError, version);
}

/** Longest string value a glob constraint will examine; longer values fail the constraint. */
export const MAX_GLOB_SUBJECT = 65_536;

/** Glob: `*` matches any run of characters (including none), `?` exactly one. No escapes. */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0,
    i = 0,
    star = -1,
    mark = 0;
  while (i < s.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === s[i])) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = i;
    } else if (star !== -1) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Does the constraint admit this present value? (A missing value is admitted by nothing.) */
export function admits(c: Constraint, v: unknown): boolean {
  switch (c.type) {
    case 'exact':
      return v === c.value;
    case 'oneOf':
      return c.values.some((x) => x === v);
    case 'range':
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      return (c.min === undefined || v >= c.min) && (c.max === undefined || v <= c.max);
    case 'glob':
      return typeof v === 'string' && v.length <= MAX_GLOB_SUBJECT && globMatch(c.pattern, v);
    case 'prefix':
      return typeof v === 'string' && v.startsWith(c.prefix);
    case 'pathUnder': {
      const base = c.path === '/' ? '/' : c.path + '/';
      return typeof v === 'string' && isCleanAbsolutePath(v) && (v === c.path || v.startsWith(base));
    }
    default:
      return checkV2(c, v, helpers);
  }
}

function describe(c: Constraint): string {
  switch (c.type) {
    case 'exact':
      return `must equal ${JSON.stringify(c.value)}`;
    case 'oneOf':
      return `must be one of ${JSON.stringify(c.values)}`;
    case 'range':
      return c.min !== undefined && c.max !== undefined
        ? `must be a number in [${c.min}, ${c.max}]`
        : c.min !== undefined
          ? `must be a number >= ${c.min}`
          : `must be a number <= ${c.max}`;
    case 'glob':
      return `must match ${JSON.stringify(c.pattern)} (${MAX_GLOB_SUBJECT} characters at most)`;
    case 'prefix':
      return `must start with ${JSON.stringify(c.prefix)}`;
    case 'pathUnder':
      return `must be a clean absolute path under ${JSON.stringify(c.path)}`;
    default:
      return `must satisfy its ${c.type} constraint`;
  }
}

/**
 * Returns null when the constraint holds, or a short reason when it does not.
 * `paths`: the key is an argument path (format version 2); otherwise a
 * top-level argument name (version 1). Reasons name the argument and the
 * rule, never the value.
 */
export function checkConstraint(name: string, c: Constraint, args: Readonly<Record<string, unknown>>, paths = false): string | null {
  if (!paths || (name.indexOf('.') < 0 && name.indexOf('[') < 0)) {
    if (!Object.prototype.hasOwnProperty.call(args, name) || args[name] === undefined) return `argument "${name}" is required by a constraint but missing`;
    return admits(c, args[name]) ? null : `argument "${name}" ${describe(c)}`;
  }
  const values = resolvePath(parsePath(name), args);
  if (values === undefined) return `argument "${name}" is required by a constraint but missing`;
  for (const v of values) if (!admits(c, v)) return `argument "${name}" ${describe(c)}`;
  return null;
}
