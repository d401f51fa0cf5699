/**
 * Attenuation of constraints (docs/spec.md §6.3): covers(parent, child) is
 * true only if every value the child admits is admitted by the parent. It is
 * sound and deliberately incomplete: where inclusion is hard to decide (two
 * different regexes or globs, say) the answer is false, and the delegation
 * is refused rather than trusted.
 */
import type { Constraint, Scalar } from '../constraints.ts';
import { admits, encodeConstraint, globMatch } from '../constraints.ts';
import { encode } from '../cbor.ts';
import { compareDecimal, decimalOfNumber, parseDecimal, type Dec } from './decimal.ts';
import { cidrCovers, parseCidr } from './ip.ts';
import { urlCovers, urlSafeAdmits } from './url.ts';

/** The finite set of values a constraint admits, when it is one (exact, oneOf), else undefined. */
function finite(c: Constraint): readonly Scalar[] | undefined {
  if (c.type === 'exact') return [c.value];
  if (c.type === 'oneOf') return c.values;
  return undefined;
}

/** The literal text every string a glob admits starts with (up to its first wildcard). */
const globLiteralPrefix = (p: string) => p.slice(0, Math.min(...['*', '?'].map((w) => (p.includes(w) ? p.indexOf(w) : p.length))));
const hasWildcard = (p: string) => p.includes('*') || p.includes('?');
/** A glob of the form LITERAL* admits exactly the strings starting with LITERAL. */
const isPrefixGlob = (p: string) => p.endsWith('*') && !hasWildcard(p.slice(0, -1));

type Bound = Dec | undefined;
const lowerOk = (p: Bound, c: Bound) => p === undefined || (c !== undefined && compareDecimal(c, p) >= 0);
const upperOk = (p: Bound, c: Bound) => p === undefined || (c !== undefined && compareDecimal(c, p) <= 0);
const intDec = (n: number | undefined) => (n === undefined ? undefined : decimalOfNumber(n));
const strDec = (s: string | undefined) => (s === undefined ? undefined : parseDecimal(s));
const inRange = (lo: number | undefined, hi: number | undefined, clo: number | undefined, chi: number | undefined) =>
  (lo === undefined || (clo !== undefined && clo >= lo)) && (hi === undefined || (chi !== undefined && chi <= hi));

function cleanUnder(base: string, p: string): boolean {
  return p === base || base === '/' || p.startsWith(base + '/');
}

/** Encoded form of each (frozen, validated) constraint object, computed once. */
const encoded = new WeakMap<Constraint, Buffer>();
function encodingOf(c: Constraint): Buffer {
  let e = encoded.get(c);
  if (!e) encoded.set(c, (e = Buffer.from(encode(encodeConstraint(c)))));
  return e;
}
const sameEncoding = (a: Constraint, b: Constraint) => a === b || encodingOf(a).equals(encodingOf(b));

/**
 * Is every value `child` admits also admitted by `parent`? The answer for each
 * pair of sub-constraints is remembered for the duration of one call: the
 * recursion below reaches the same pair along many paths (an `anyOf` parent
 * against an `all` child explores both sides), which without the memo costs
 * exponentially many steps in the nesting depth on a hand-made delegation.
 */
export function covers(parent: Constraint, child: Constraint): boolean {
  const memo = new Map<Constraint, Map<Constraint, boolean>>();
  const cov = (p: Constraint, c: Constraint): boolean => {
    let row = memo.get(p);
    if (!row) memo.set(p, (row = new Map()));
    let r = row.get(c);
    if (r === undefined) row.set(c, (r = coversStep(p, c, cov)));
    return r;
  };
  return cov(parent, child);
}

function coversStep(parent: Constraint, child: Constraint, sub: (p: Constraint, c: Constraint) => boolean): boolean {
  // The same constraint admits the same values (a child that restates its parent's).
  if (parent.type === child.type && sameEncoding(parent, child)) return true;
  // A child that admits finitely many values: check each (exact, since checks are deterministic).
  const fin = finite(child);
  if (fin) return fin.every((v) => admits(parent, v));
  // Composites on the child side: all(Cs) ⊆ each Ci; anyOf(Cs) = ∪ Ci.
  if (child.type === 'all' && child.constraints.some((c) => sub(parent, c))) return true;
  if (child.type === 'anyOf') return child.constraints.every((c) => sub(parent, c));
  switch (parent.type) {
    case 'exact':
    case 'oneOf':
      return false; // the child is not finite
    case 'all':
      return parent.constraints.every((p) => sub(p, child));
    case 'anyOf':
      return parent.constraints.some((p) => sub(p, child));
    case 'not':
      // child ⊆ ¬X  when  X ⊆ ¬child, i.e. child = not(Y) with X ⊆ Y.
      return child.type === 'not' && sub(child.constraint, parent.constraint);
    case 'notOneOf':
      // Exact: the child must admit none of the excluded values.
      return parent.values.every((v) => !admits(child, v));
    case 'range':
      if (child.type === 'range') return inRange(parent.min, parent.max, child.min, child.max);
      return false;
    case 'decimal': {
      const lo = strDec(parent.min),
        hi = strDec(parent.max);
      if (child.type === 'decimal') return lowerOk(lo, strDec(child.min)) && upperOk(hi, strDec(child.max));
      if (child.type === 'range') return lowerOk(lo, intDec(child.min)) && upperOk(hi, intDec(child.max));
      return false;
    }
    case 'length':
      return child.type === 'length' && inRange(parent.min, parent.max, child.min, child.max);
    case 'glob':
      if (child.type === 'glob')
        return (
          child.pattern === parent.pattern ||
          (!hasWildcard(child.pattern) && globMatch(parent.pattern, child.pattern)) ||
          (isPrefixGlob(parent.pattern) && globLiteralPrefix(child.pattern).startsWith(parent.pattern.slice(0, -1)))
        );
      // Not prefix or pathUnder children: they admit strings longer than a glob examines (MAX_GLOB_SUBJECT).
      return false;
    case 'prefix':
      if (child.type === 'prefix') return child.prefix.startsWith(parent.prefix);
      if (child.type === 'glob') return globLiteralPrefix(child.pattern).startsWith(parent.prefix);
      if (child.type === 'pathUnder') return child.path.startsWith(parent.prefix);
      return false;
    case 'pathUnder':
      return child.type === 'pathUnder' && cleanUnder(parent.path, child.path);
    case 'each':
      if (child.type === 'each') return sub(parent.constraint, child.constraint);
      if (child.type === 'subset') return child.values.every((v) => admits(parent.constraint, v));
      return false;
    case 'subset':
      if (child.type === 'subset') return child.values.every((v) => parent.values.includes(v));
      if (child.type === 'each') {
        const f = finite(child.constraint);
        return f !== undefined && f.every((v) => parent.values.includes(v));
      }
      return false;
    case 'contains':
      return child.type === 'contains' && parent.values.every((v) => child.values.includes(v));
    case 'cidr':
      return child.type === 'cidr' && cidrCovers(parseCidr(parent.cidr)!, parseCidr(child.cidr)!);
    case 'url':
      return child.type === 'url' && urlCovers(parent, child);
    case 'urlSafe':
      if (child.type === 'urlSafe') return true;
      // A url rule with an exact host the safety rule admits, on http(s).
      if (child.type === 'url' && child.host !== undefined && !child.host.startsWith('*.') && (child.scheme === 'http' || child.scheme === 'https')) {
        return urlSafeAdmits(`${child.scheme}://${child.host.includes(':') && !child.host.startsWith('[') ? `[${child.host}]` : child.host}/`);
      }
      return false;
    case 'regex':
      return child.type === 'regex' && child.pattern === parent.pattern;
  }
  return false;
}
