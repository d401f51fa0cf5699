/**
 * The constraint kinds of format version 2 (docs/spec.md §6.2): validation
 * of the API form, the CBOR form, and the check of one present value.
 * Version 1 kinds (exact, oneOf, range, glob, prefix, pathUnder) stay in
 * ../constraints.ts, which dispatches here for the others.
 */
import { InvalidArgumentError, MalformedError } from '../../errors.ts';
import type { CborMap, CborValue } from '../cbor.ts';
import { LIMITS } from '../limits.ts';
import type { Constraint, Scalar } from '../constraints.ts';
import { CANONICAL_DECIMAL, compareDecimal, decimalOfValue, parseDecimal, type Dec } from './decimal.ts';
import { cidrContains, parseCidr, parseIp } from './ip.ts';
import { compileRegex, RegexSyntaxError } from './regex.ts';
import { isHostPattern, urlAdmits, urlSafeAdmits, type UrlRule } from './url.ts';

type Err = typeof MalformedError | typeof InvalidArgumentError;

export const V2_KIND = {
  notOneOf: 6,
  decimal: 7,
  length: 8,
  each: 9,
  subset: 10,
  contains: 11,
  cidr: 12,
  url: 13,
  urlSafe: 14,
  regex: 15,
  all: 16,
  anyOf: 17,
  not: 18,
} as const;
export type V2Type = keyof typeof V2_KIND;
export const V2_TYPES = new Set<string>(Object.keys(V2_KIND));
const KIND_NAME = new Map<number, V2Type>(Object.entries(V2_KIND).map(([k, v]) => [v, k as V2Type]));

/** Deepest nesting of composite kinds (each, all, anyOf, not) inside one constraint. */
export const MAX_CONSTRAINT_NESTING = 4;
/** Most kinds (nodes) in one top-level constraint. */
export const MAX_CONSTRAINT_NODES = 32;
/** Operands of all / anyOf. */
export const MAX_OPERANDS = 8;
/** Largest length bound. */
const MAX_LENGTH = 0xffffffff;

export interface Helpers {
  checkScalar(v: unknown, what: string, E: Err): Scalar;
  checkString(s: unknown, what: string, E: Err, nonEmpty?: boolean): string;
  validate(c: unknown, what: string, E: Err, depth: number, budget: { nodes: number }): Constraint;
  encode(c: Constraint): CborValue[];
  decode(raw: CborValue, what: string): unknown;
  check(c: Constraint, v: unknown): boolean;
}

function scalarList(o: unknown, what: string, E: Err, h: Helpers, kind: string): Scalar[] {
  if (!Array.isArray(o) || o.length === 0 || o.length > LIMITS.maxOneOfValues) throw new E(`${what}: ${kind} needs 1 to ${LIMITS.maxOneOfValues} values`);
  const values = o.map((v) => h.checkScalar(v, what, E));
  if (new Set(values).size !== values.length) throw new E(`${what}: ${kind} lists a value twice`);
  return values;
}

function bound(v: unknown, what: string, E: Err, check: (x: unknown) => boolean, msg: string): unknown {
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw new E(`${what}: ${msg}`);
  return v;
}

/** Validates a version-2 kind given as an object with `type`. */
export function validateV2(o: Record<string, unknown>, what: string, E: Err, depth: number, budget: { nodes: number }, h: Helpers): Constraint {
  const nested = (c: unknown) => {
    if (depth + 1 > MAX_CONSTRAINT_NESTING) throw new E(`${what}: constraints nest deeper than ${MAX_CONSTRAINT_NESTING} levels`);
    return h.validate(c, what, E, depth + 1, budget);
  };
  switch (o.type as V2Type) {
    case 'notOneOf':
      return { type: 'notOneOf', values: scalarList(o.values, what, E, h, 'notOneOf') };
    case 'subset':
      return { type: 'subset', values: scalarList(o.values, what, E, h, 'subset') };
    case 'contains':
      return { type: 'contains', values: scalarList(o.values, what, E, h, 'contains') };
    case 'decimal': {
      const isDec = (x: unknown) => typeof x === 'string' && x.length <= 64 && CANONICAL_DECIMAL.test(x) && x !== '-0';
      const min = bound(o.min, what, E, isDec, 'decimal bounds are canonical decimal text, e.g. "10.5" (no exponent, no trailing zeros)') as string | undefined;
      const max = bound(o.max, what, E, isDec, 'decimal bounds are canonical decimal text, e.g. "10.5" (no exponent, no trailing zeros)') as string | undefined;
      if (min === undefined && max === undefined) throw new E(`${what}: decimal needs min or max`);
      if (min !== undefined && max !== undefined && compareDecimal(parseDecimal(min)!, parseDecimal(max)!) > 0) throw new E(`${what}: decimal min > max`);
      return { type: 'decimal', ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
    }
    case 'length': {
      const isLen = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= MAX_LENGTH;
      const min = bound(o.min, what, E, isLen, 'length bounds are whole numbers from 0 to 2^32-1') as number | undefined;
      const max = bound(o.max, what, E, isLen, 'length bounds are whole numbers from 0 to 2^32-1') as number | undefined;
      if (min === undefined && max === undefined) throw new E(`${what}: length needs min or max`);
      if (min !== undefined && max !== undefined && min > max) throw new E(`${what}: length min > max`);
      return { type: 'length', ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
    }
    case 'each':
      return { type: 'each', constraint: nested(o.constraint) };
    case 'not':
      return { type: 'not', constraint: nested(o.constraint) };
    case 'all':
    case 'anyOf': {
      if (!Array.isArray(o.constraints) || o.constraints.length < 2 || o.constraints.length > MAX_OPERANDS)
        throw new E(`${what}: ${o.type} needs 2 to ${MAX_OPERANDS} constraints`);
      return { type: o.type, constraints: o.constraints.map(nested) } as Constraint;
    }
    case 'cidr': {
      const s = h.checkString(o.cidr, what, E, true);
      const c = parseCidr(s);
      if (!c) throw new E(`${what}: cidr needs an address block like "10.0.0.0/8" or "2001:db8::/32" (host bits zero)`);
      const canonical = c.v === 4 ? s : s.toLowerCase();
      if (canonical !== s) throw new E(`${what}: write IPv6 blocks in lowercase`);
      return { type: 'cidr', cidr: s };
    }
    case 'url': {
      const r: { scheme?: string; host?: string; port?: number; path?: string } = {};
      if (o.scheme !== undefined) {
        const s = h.checkString(o.scheme, what, E, true);
        if (!/^[a-z][a-z0-9+.-]*$/.test(s)) throw new E(`${what}: url scheme is lowercase, without ":"`);
        r.scheme = s;
      }
      if (o.host !== undefined) {
        const s = h.checkString(o.host, what, E, true);
        if (!isHostPattern(s))
          throw new E(`${what}: url host is a lowercase DNS name of two or more labels, "*." + such a name, or an IP address as a URL writes it`);
        r.host = s;
      }
      if (o.port !== undefined) {
        const p = o.port;
        if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1 || p > 65535) throw new E(`${what}: url port is 1 to 65535`);
        r.port = p;
      }
      if (o.path !== undefined) {
        const s = h.checkString(o.path, what, E, true);
        let normal: string | undefined;
        try {
          normal = new URL(s, 'http://h').pathname;
        } catch {
          normal = undefined;
        }
        if (!s.startsWith('/') || normal !== s) throw new E(`${what}: url path starts with "/" and is already in WHATWG normal form`);
        r.path = s;
      }
      if (Object.keys(r).length === 0) throw new E(`${what}: url needs scheme, host, port or path`);
      return { type: 'url', ...r };
    }
    case 'urlSafe':
      return { type: 'urlSafe' };
    case 'regex': {
      const s = h.checkString(o.pattern, what, E, true);
      try {
        compileRegex(s);
      } catch (e) {
        if (e instanceof RegexSyntaxError) throw new E(`${what}: regex ${e.message}`);
        throw e;
      }
      return { type: 'regex', pattern: s };
    }
    default:
      throw new E(`${what}: unknown type ${JSON.stringify(o.type)}`);
  }
}

export function encodeV2(c: Constraint, h: Helpers): CborValue[] {
  switch (c.type) {
    case 'notOneOf':
    case 'subset':
    case 'contains':
      return [V2_KIND[c.type], [...c.values]];
    case 'decimal':
      return [V2_KIND.decimal, c.min ?? null, c.max ?? null];
    case 'length':
      return [V2_KIND.length, c.min ?? null, c.max ?? null];
    case 'each':
    case 'not':
      return [V2_KIND[c.type], h.encode(c.constraint)];
    case 'all':
    case 'anyOf':
      return [V2_KIND[c.type], c.constraints.map((x) => h.encode(x))];
    case 'cidr':
      return [V2_KIND.cidr, c.cidr];
    case 'url': {
      const m: CborMap = new Map();
      if (c.scheme !== undefined) m.set(1, c.scheme);
      if (c.host !== undefined) m.set(2, c.host);
      if (c.port !== undefined) m.set(3, c.port);
      if (c.path !== undefined) m.set(4, c.path);
      return [V2_KIND.url, m];
    }
    case 'urlSafe':
      return [V2_KIND.urlSafe];
    case 'regex':
      return [V2_KIND.regex, c.pattern];
    default:
      throw new Error(`not a version-2 kind: ${c.type}`);
  }
}

/** CBOR [kind, ...] of a version-2 kind -> the API object (validated afterwards by the caller). */
export function decodeV2(raw: CborValue[], what: string, h: Helpers): Record<string, unknown> {
  const kind = raw[0];
  const type = typeof kind === 'number' ? KIND_NAME.get(kind) : undefined;
  if (!type) throw new MalformedError(`${what} has unknown kind ${String(kind)}`);
  const expectLen = (n: number) => {
    if (raw.length !== n) throw new MalformedError(`${what} has ${raw.length} items, expected ${n}`);
  };
  const [, a, b] = raw;
  switch (type) {
    case 'notOneOf':
    case 'subset':
    case 'contains':
      expectLen(2);
      return { type, values: a };
    case 'decimal':
    case 'length':
      expectLen(3);
      for (const x of [a, b])
        if (x !== null && typeof x !== (type === 'decimal' ? 'string' : 'number'))
          throw new MalformedError(`${what}: ${type} bounds are ${type === 'decimal' ? 'text' : 'integers'} or null`);
      if (a === null && b === null) throw new MalformedError(`${what}: ${type} needs a bound`);
      return { type, ...(a !== null ? { min: a } : {}), ...(b !== null ? { max: b } : {}) };
    case 'each':
    case 'not':
      expectLen(2);
      return { type, constraint: h.decode(a!, what) };
    case 'all':
    case 'anyOf':
      expectLen(2);
      if (!Array.isArray(a)) throw new MalformedError(`${what}: ${type} operands are an array`);
      return { type, constraints: a.map((x) => h.decode(x, what)) };
    case 'cidr':
      expectLen(2);
      return { type, cidr: a };
    case 'regex':
      expectLen(2);
      return { type, pattern: a };
    case 'urlSafe':
      expectLen(1);
      return { type };
    case 'url': {
      expectLen(2);
      if (!(a instanceof Map) || a.size === 0) throw new MalformedError(`${what}: url rule is a non-empty map`);
      const out: Record<string, unknown> = { type };
      const names: Record<number, string> = { 1: 'scheme', 2: 'host', 3: 'port', 4: 'path' };
      for (const [k, v] of a) {
        const n = typeof k === 'number' ? names[k] : undefined;
        if (!n) throw new MalformedError(`${what}: url rule has unknown key ${JSON.stringify(k)}`);
        out[n] = v;
      }
      return out;
    }
  }
}

const strictIn = (values: readonly Scalar[], v: unknown) => values.some((x) => x === v);

interface Bounds {
  min?: Dec;
  max?: Dec;
  minN?: number;
  maxN?: number;
}
/** Parsed decimal bounds, once per constraint object. */
const parsedBounds = new WeakMap<object, Bounds>();
function bounds(c: { readonly min?: string; readonly max?: string }): Bounds {
  let b = parsedBounds.get(c);
  if (!b) {
    b = {};
    if (c.min !== undefined) {
      b.min = parseDecimal(c.min)!;
      b.minN = Number(c.min);
    }
    if (c.max !== undefined) {
      b.max = parseDecimal(c.max)!;
      b.maxN = Number(c.max);
    }
    parsedBounds.set(c, b);
  }
  return b;
}
const codePoints = (s: string) => {
  let n = 0;
  for (const c of s) {
    n++;
    void c;
  }
  return n;
};

/** The elements of an array as JSON sees them: holes and undefined elements are null. */
function elements(v: readonly unknown[]): unknown[] {
  const out = new Array<unknown>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] === undefined ? null : v[i];
  return out;
}

/** Does a version-2 kind admit the (present) value? */
export function checkV2(c: Constraint, v: unknown, h: Helpers): boolean {
  switch (c.type) {
    case 'notOneOf':
      return !strictIn(c.values, v);
    case 'decimal': {
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return false;
        // Rounding is monotone: a double below (above) the bound's nearest double has its shortest
        // decimal below (above) the bound. Only a tie needs the exact comparison.
        const b = bounds(c);
        if (b.minN !== undefined && v !== b.minN) {
          if (v < b.minN) return false;
        } else if (b.min && compareDecimal(decimalOfValue(v)!, b.min) < 0) return false;
        if (b.maxN !== undefined && v !== b.maxN) {
          if (v > b.maxN) return false;
        } else if (b.max && compareDecimal(decimalOfValue(v)!, b.max) > 0) return false;
        return true;
      }
      const d = decimalOfValue(v);
      if (!d) return false;
      const b = bounds(c);
      if (b.min && compareDecimal(d, b.min) < 0) return false;
      if (b.max && compareDecimal(d, b.max) > 0) return false;
      return true;
    }
    case 'length': {
      const n = typeof v === 'string' ? codePoints(v) : Array.isArray(v) ? v.length : -1;
      if (n < 0) return false;
      return (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max);
    }
    // Elements by index, not every()/some(): those skip the holes of a sparse array, which the
    // tool still receives (and JSON writes as null, like an undefined element).
    case 'each':
      return Array.isArray(v) && elements(v).every((e) => h.check(c.constraint, e));
    case 'subset':
      return Array.isArray(v) && elements(v).every((e) => strictIn(c.values, e));
    case 'contains': {
      if (!Array.isArray(v)) return false;
      const es = elements(v);
      return c.values.every((x) => es.some((e) => e === x));
    }
    case 'cidr': {
      const ip = typeof v === 'string' ? parseIp(v) : undefined;
      return ip !== undefined && cidrContains(parseCidr(c.cidr)!, ip);
    }
    case 'url':
      return urlAdmits(c as UrlRule, v);
    case 'urlSafe':
      return urlSafeAdmits(v);
    case 'regex':
      return typeof v === 'string' && compileRegex(c.pattern).test(v);
    case 'all':
      return c.constraints.every((x) => h.check(x, v));
    case 'anyOf':
      return c.constraints.some((x) => h.check(x, v));
    case 'not':
      return !h.check(c.constraint, v);
    default:
      return false;
  }
}
