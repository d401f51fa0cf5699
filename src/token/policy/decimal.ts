/**
 * Exact decimal numbers for the `decimal` constraint (docs/spec.md §6.2).
 * A bound is canonical decimal text; a value is a JSON number, taken as the
 * shortest decimal that round-trips (ECMAScript Number::toString, the text
 * JCS writes), or a decimal string. Comparison is on the exact decimals, so
 * 0.1 + 0.2 (0.30000000000000004) is above a bound of 0.3.
 */

/** Canonical bound text: no leading zeros, no trailing fractional zeros, no "-0", no exponent. */
export const CANONICAL_DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$/;
/** A decimal string value: digits with an optional fraction (leading/trailing zeros allowed), at most 64 characters. */
const DECIMAL_VALUE = /^-?[0-9]+(?:\.[0-9]+)?$/;

export interface Dec {
  /** -1, 0 or 1. */
  readonly sign: number;
  /** Integer digits without leading zeros ("" for zero). */
  readonly int: string;
  /** Fraction digits without trailing zeros. */
  readonly frac: string;
}

function fromParts(neg: boolean, int: string, frac: string): Dec {
  int = int.replace(/^0+/, '');
  frac = frac.replace(/0+$/, '');
  const zero = int === '' && frac === '';
  return { sign: zero ? 0 : neg ? -1 : 1, int, frac };
}

/** Parses decimal text (value syntax); undefined when it is not one. */
export function parseDecimal(s: string): Dec | undefined {
  if (s.length > 64 || !DECIMAL_VALUE.test(s)) return undefined;
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf('.');
  return fromParts(neg, dot < 0 ? body : body.slice(0, dot), dot < 0 ? '' : body.slice(dot + 1));
}

/** The exact decimal of a finite number's shortest round-trip text (exponents expanded). */
export function decimalOfNumber(n: number): Dec | undefined {
  if (!Number.isFinite(n)) return undefined;
  const t = String(n);
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:e([+-][0-9]+))?$/.exec(t);
  if (!m) return undefined;
  const neg = m[1] === '-';
  let digits = m[2]! + (m[3] ?? '');
  let point = m[2]!.length + (m[4] ? parseInt(m[4], 10) : 0);
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits = digits + '0'.repeat(point - digits.length);
  return fromParts(neg, digits.slice(0, point), digits.slice(point));
}

function cmpAbs(a: Dec, b: Dec): number {
  if (a.int.length !== b.int.length) return a.int.length < b.int.length ? -1 : 1;
  if (a.int !== b.int) return a.int < b.int ? -1 : 1;
  const n = Math.max(a.frac.length, b.frac.length);
  const fa = a.frac.padEnd(n, '0');
  const fb = b.frac.padEnd(n, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

/** Exact comparison: -1, 0 or 1. */
export function compareDecimal(a: Dec, b: Dec): number {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  const c = cmpAbs(a, b);
  return a.sign < 0 ? -c : c;
}

/** The decimal a constraint value denotes: a finite number or a decimal string; else undefined. */
export function decimalOfValue(v: unknown): Dec | undefined {
  if (typeof v === 'number') return decimalOfNumber(v);
  if (typeof v === 'string') return parseDecimal(v);
  return undefined;
}
