/**
 * Argument constraints (docs/spec.md §6). A grant may constrain top-level
 * arguments of the call by name; every constraint of every block along the
 * chain must hold. A missing argument never satisfies a constraint.
 */
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import type { CborMap, CborValue } from './cbor.ts';
import { LIMITS } from './limits.ts';

export type Scalar = string | number | boolean | null;

export type Constraint =
  | { readonly type: 'exact'; readonly value: Scalar }
  | { readonly type: 'oneOf'; readonly values: readonly Scalar[] }
  | { readonly type: 'range'; readonly min?: number; readonly max?: number }
  | { readonly type: 'glob'; readonly pattern: string }
  | { readonly type: 'prefix'; readonly prefix: string }
  | { readonly type: 'pathUnder'; readonly path: string };

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

/**
 * Validates a constraint given through the API or the config file.
 * Throws InvalidArgumentError (or MalformedError when decoding) with a reason.
 */
export function validateConstraint(name: string, c: unknown, Err: typeof MalformedError | typeof InvalidArgumentError = InvalidArgumentError): Constraint {
  if (typeof name !== 'string' || !ARG_NAME.test(name) || byteLength(name) > LIMITS.maxStringBytes) {
    throw new Err(`constraint argument name ${JSON.stringify(name)} is not a valid identifier`);
  }
  const what = `constraint on "${name}"`;
  if (typeof c !== 'object' || c === null) throw new Err(`${what} must be an object`);
  const o = c as Record<string, unknown>;
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
      for (const b of [min, max]) if (b !== undefined && !Number.isSafeInteger(b)) throw new Err(`${what}: range bounds are safe integers`);
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

export function validateConstraints(cs: unknown, Err: typeof MalformedError | typeof InvalidArgumentError = InvalidArgumentError): Constraints {
  if (typeof cs !== 'object' || cs === null || Array.isArray(cs)) throw new Err('constraints must be an object keyed by argument name');
  const entries = Object.entries(cs);
  if (entries.length > LIMITS.maxConstraintsPerGrant) throw new Err(`more than ${LIMITS.maxConstraintsPerGrant} constraints in one grant`);
  const out: Record<string, Constraint> = {};
  // defineProperty, not assignment: an argument named "__proto__" must stay an own property.
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: validateConstraint(k, v, Err), enumerable: true, writable: true, configurable: true });
  return Object.freeze(out);
}

export function encodeConstraint(c: Constraint): CborValue[] {
  switch (c.type) {
    case 'exact': return [KIND.exact, c.value];
    case 'oneOf': return [KIND.oneOf, [...c.values]];
    case 'range': return [KIND.range, c.min ?? null, c.max ?? null];
    case 'glob': return [KIND.glob, c.pattern];
    case 'prefix': return [KIND.prefix, c.prefix];
    case 'pathUnder': return [KIND.pathUnder, c.path];
  }
}

export function encodeConstraints(cs: Constraints): CborMap {
  return new Map(Object.entries(cs).map(([k, c]) => [k, encodeConstraint(c)]));
}

export function decodeConstraints(v: CborValue): Constraints {
  if (!(v instanceof Map) || v.size === 0) throw new MalformedError('constraints must be a non-empty map');
  const obj: Record<string, unknown> = {};
  const set = (k: string, c: unknown) => Object.defineProperty(obj, k, { value: c, enumerable: true, writable: true, configurable: true });
  for (const [k, raw] of v) {
    if (typeof k !== 'string') throw new MalformedError('constraint keys are argument names (text)');
    if (!Array.isArray(raw) || raw.length < 2) throw new MalformedError(`constraint on "${k}" is not [kind, ...]`);
    const [kind, a, b] = raw;
    const expectLen = (n: number) => { if (raw.length !== n) throw new MalformedError(`constraint on "${k}" has ${raw.length} items, expected ${n}`); };
    switch (kind) {
      case KIND.exact: expectLen(2); set(k, { type: 'exact', value: a }); break;
      case KIND.oneOf: expectLen(2); set(k, { type: 'oneOf', values: a }); break;
      case KIND.range:
        expectLen(3);
        set(k, { type: 'range', ...(a !== null ? { min: a } : {}), ...(b !== null ? { max: b } : {}) });
        if ((a !== null && typeof a !== 'number') || (b !== null && typeof b !== 'number')) throw new MalformedError(`constraint on "${k}": range bounds are integers or null`);
        break;
      case KIND.glob: expectLen(2); set(k, { type: 'glob', pattern: a }); break;
      case KIND.prefix: expectLen(2); set(k, { type: 'prefix', prefix: a }); break;
      case KIND.pathUnder: expectLen(2); set(k, { type: 'pathUnder', path: a }); break;
      default: throw new MalformedError(`constraint on "${k}" has unknown kind ${String(kind)}`);
    }
  }
  const out = validateConstraints(obj, MalformedError);
  return out;
}

/** Longest string value a glob constraint will examine; longer values fail the constraint. */
export const MAX_GLOB_SUBJECT = 65_536;

/** Glob: `*` matches any run of characters (including none), `?` exactly one. No escapes. */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0, i = 0, star = -1, mark = 0;
  while (i < s.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === s[i])) { p++; i++; }
    else if (p < pattern.length && pattern[p] === '*') { star = p++; mark = i; }
    else if (star !== -1) { p = star + 1; i = ++mark; }
    else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Returns null when the constraint holds, or a short reason when it does not. */
export function checkConstraint(name: string, c: Constraint, args: Readonly<Record<string, unknown>>): string | null {
  if (!Object.prototype.hasOwnProperty.call(args, name)) return `argument "${name}" is required by a constraint but missing`;
  const v = args[name];
  switch (c.type) {
    case 'exact':
      return v === c.value ? null : `argument "${name}" must equal ${JSON.stringify(c.value)}`;
    case 'oneOf':
      return c.values.some((x) => x === v) ? null : `argument "${name}" must be one of ${JSON.stringify(c.values)}`;
    case 'range':
      if (typeof v !== 'number' || !Number.isFinite(v)) return `argument "${name}" must be a number`;
      if (c.min !== undefined && v < c.min) return `argument "${name}" must be >= ${c.min}`;
      if (c.max !== undefined && v > c.max) return `argument "${name}" must be <= ${c.max}`;
      return null;
    case 'glob':
      // Matching is O(len(pattern) x len(value)); bound the value so a huge argument cannot stall the guard.
      if (typeof v === 'string' && v.length > MAX_GLOB_SUBJECT) return `argument "${name}" is too long to match a glob (${MAX_GLOB_SUBJECT} characters at most)`;
      return typeof v === 'string' && globMatch(c.pattern, v) ? null : `argument "${name}" must match ${JSON.stringify(c.pattern)}`;
    case 'prefix':
      return typeof v === 'string' && v.startsWith(c.prefix) ? null : `argument "${name}" must start with ${JSON.stringify(c.prefix)}`;
    case 'pathUnder': {
      const base = c.path === '/' ? '/' : c.path + '/';
      const ok = typeof v === 'string' && isCleanAbsolutePath(v) && (v === c.path || v.startsWith(base));
      return ok ? null : `argument "${name}" must be a clean absolute path under ${JSON.stringify(c.path)}`;
    }
  }
}
