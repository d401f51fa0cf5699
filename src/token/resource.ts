/**
 * Resource names and patterns (docs/spec.md §5).
 *
 * A resource is `scheme://seg1/seg2/...`: at least one segment, ASCII only,
 * each segment non-empty and made of RFC 3986 `pchar`s. Concrete resources are
 * normalised (lowercase scheme, percent-encoded unreserved characters decoded,
 * other percent-encodings uppercased) and then refused if any segment is `.`
 * or `..`, contains a bare `*`, or encodes `/`, a control character or
 * anything outside the allowed set. A pattern is a resource in normal form
 * whose segments may also be `*` (exactly one segment) or, as the last
 * segment, `**` (one or more segments).
 */
import { MalformedError, ScopeResourceError } from '../errors.ts';
import { LIMITS } from './limits.ts';

export interface Pattern {
  readonly text: string;
  readonly scheme: string;
  readonly segments: readonly string[];
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
// RFC 3986 pchar without '%' (handled separately) and without '*' (wildcard only).
const SEGMENT_CHARS = /^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function fail(kind: 'pattern' | 'resource', text: string, why: string): never {
  const shown = JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text);
  if (kind === 'pattern') throw new MalformedError(`invalid resource pattern ${shown}: ${why}`);
  throw new ScopeResourceError(`invalid resource ${shown}: ${why}`);
}

function normalizeSegment(seg: string, kind: 'pattern' | 'resource', text: string): string {
  if (seg.length === 0) fail(kind, text, 'empty segment');
  if (!SEGMENT_CHARS.test(seg)) fail(kind, text, 'segment contains a character outside RFC 3986 pchar (percent-encode it)');
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = seg.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(kind, text, 'bad percent-encoding');
    const code = parseInt(hex, 16);
    if (code === 0x2f) fail(kind, text, 'percent-encoded "/"');
    if (code < 0x20 || code === 0x7f) fail(kind, text, 'percent-encoded control character');
    const ch = String.fromCharCode(code);
    out += UNRESERVED.test(ch) ? ch : '%' + hex.toUpperCase();
    i += 2;
  }
  if (out === '.' || out === '..') fail(kind, text, 'dot segment');
  return out;
}

function split(text: string, kind: 'pattern' | 'resource'): { scheme: string; segments: string[] } {
  if (typeof text !== 'string') fail(kind, String(text), 'not a string');
  if (text.length > LIMITS.maxResourceBytes) fail(kind, text, `longer than ${LIMITS.maxResourceBytes} bytes`);
  const sep = text.indexOf('://');
  if (sep <= 0) fail(kind, text, 'expected scheme://path');
  const scheme = text.slice(0, sep);
  if (!SCHEME.test(scheme)) fail(kind, text, 'bad scheme');
  const rest = text.slice(sep + 3);
  if (rest.length === 0) fail(kind, text, 'no path segment');
  return { scheme, segments: rest.split('/') };
}

/**
 * Recently normalised resources (input text -> normal form). Strings are
 * immutable and normalisation depends on nothing else, so a hit is exactly
 * what normalising again would give. Only successes are remembered.
 */
const normalized = new Map<string, string>();
const NORMALIZED_MAX = 512;

/** Normalises a concrete resource; throws ScopeResourceError (ERR_SCOPE_RESOURCE) if it is not acceptable. */
export function normalizeResource(text: string): string {
  if (isNormalFast(text)) return text; // the common case: no cache traffic for unique resources
  const hit = normalized.get(text);
  if (hit !== undefined) return hit;
  const out = normalizeFull(text);
  if (normalized.size >= NORMALIZED_MAX) normalized.delete(normalized.keys().next().value!);
  normalized.set(text, out);
  return out;
}

/**
 * Already in normal form: lowercase scheme, `://`, one or more non-empty
 * segments of RFC 3986 pchars without `%` or `*`, and no `.`/`..` segment.
 * Such text normalises to itself, so the full pass below can be skipped.
 */
const NORMAL_FAST = /^[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9\-._~!$&'()+,;=:@]+(?:\/[A-Za-z0-9\-._~!$&'()+,;=:@]+)*$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

function isNormalFast(text: string): boolean {
  return typeof text === 'string' && text.length <= LIMITS.maxResourceBytes && NORMAL_FAST.test(text) && !DOT_SEGMENT.test(text.slice(text.indexOf('://') + 2));
}

/** The full normalisation pass (exported for the test that checks the fast path against it). */
export function normalizeFull(text: string): string {
  const { scheme, segments } = split(text, 'resource');
  const out = segments.map((seg) => {
    if (seg.includes('*')) fail('resource', text, 'bare "*" in a concrete resource (percent-encode it as %2A)');
    return normalizeSegment(seg, 'resource', text);
  });
  return scheme.toLowerCase() + '://' + out.join('/');
}

/** Parses a pattern that must already be in normal form; throws MalformedError otherwise. */
export function parsePattern(text: string): Pattern {
  const { scheme, segments } = split(text, 'pattern');
  if (scheme !== scheme.toLowerCase()) fail('pattern', text, 'scheme must be lowercase');
  segments.forEach((seg, i) => {
    if (seg === '*') return;
    if (seg === '**') {
      if (i !== segments.length - 1) fail('pattern', text, '"**" is only allowed as the last segment');
      return;
    }
    if (seg.includes('*')) fail('pattern', text, '"*" must be a whole segment');
    if (normalizeSegment(seg, 'pattern', text) !== seg) fail('pattern', text, 'not in normal form');
  });
  return Object.freeze({ text, scheme, segments: Object.freeze(segments) });
}

/** The last resource matchResource split (a call is matched against every block's grants in turn). */
let lastResource: string | undefined;
let lastScheme = '';
let lastSegments: readonly string[] = [];

/** Does the pattern match the normalised concrete resource? */
export function matchResource(pattern: Pattern, resource: string): boolean {
  if (resource !== lastResource) {
    const sep = resource.indexOf('://');
    lastScheme = resource.slice(0, sep);
    lastSegments = resource.slice(sep + 3).split('/');
    lastResource = resource;
  }
  if (lastScheme !== pattern.scheme) return false;
  const segs = lastSegments;
  const p = pattern.segments;
  for (let i = 0; i < p.length; i++) {
    const ps = p[i]!;
    if (ps === '**') return segs.length > i;
    if (i >= segs.length) return false;
    if (ps !== '*' && ps !== segs[i]) return false;
  }
  return segs.length === p.length;
}

/** Is every resource matched by `child` also matched by `parent`? */
export function patternCovers(parent: Pattern, child: Pattern): boolean {
  if (parent.scheme !== child.scheme) return false;
  const p = parent.segments;
  const c = child.segments;
  for (let i = 0; i < c.length; i++) {
    const ps = p[i];
    if (ps === '**') return true;
    if (ps === undefined) return false;
    const cs = c[i]!;
    if (cs === '**') return false;
    if (ps === '*') continue;
    if (cs !== ps) return false;
  }
  return c.length === p.length;
}
