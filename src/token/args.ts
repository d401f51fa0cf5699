/**
 * Canonical form of a call's arguments: RFC 8785 JSON Canonicalization Scheme
 * (JCS), then SHA-256 with a domain label (docs/spec.md §4.3). Accepts only
 * JSON data: plain objects, arrays, strings (well-formed UTF-16), finite
 * numbers, booleans and null. Object members whose value is `undefined` are
 * omitted, as JSON.stringify does; `undefined` array items and array holes
 * become `null`, as JSON.stringify does.
 *
 * This runs on every guarded tool call, so it builds one string directly
 * (no intermediate arrays) and hashes it with one native call.
 */
import { hash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';

const ARGS_LABEL_TEXT = 'capframe-v1-args\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
type WellFormed = { isWellFormed(): boolean };
const HAS_IS_WELL_FORMED = typeof (String.prototype as unknown as Partial<WellFormed>).isWellFormed === 'function';
/** True when the string has no lone UTF-16 surrogate. */
export const wellFormed: (s: string) => boolean = HAS_IS_WELL_FORMED ? (s) => (s as unknown as WellFormed).isWellFormed() : (s) => !LONE_SURROGATE.test(s);

function serialize(v: unknown, depth: number): string {
  if (depth > 64) throw new InvalidArgumentError('arguments nested deeper than 64 levels');
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidArgumentError('arguments contain a non-finite number');
      return String(v); // ECMAScript Number::toString, as JCS requires (same as JSON.stringify for finite numbers)
    case 'string':
      if (!wellFormed(v)) throw new InvalidArgumentError('arguments contain a lone UTF-16 surrogate');
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) out += ',';
          const item: unknown = v[i];
          out += serialize(item === undefined ? null : item, depth + 1);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new InvalidArgumentError('arguments contain a non-plain object');
      const o = v as Record<string, unknown>;
      // JCS sorts member names by UTF-16 code units, which is what the default sort does.
      const keys = Object.keys(o).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const item = o[k];
        if (item === undefined) continue;
        if (!first) out += ',';
        first = false;
        if (!wellFormed(k)) throw new InvalidArgumentError('argument name contains a lone UTF-16 surrogate');
        out += JSON.stringify(k) + ':' + serialize(item, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new InvalidArgumentError(`arguments contain a value of type ${typeof v}`);
  }
}

/** RFC 8785 canonical JSON text of `args`. */
export function canonicalJson(args: unknown): string {
  return serialize(args, 0);
}

/** SHA-256("capframe-v1-args" 0x00 || UTF-8(JCS(args))), 32 bytes. */
export function argsDigest(args: unknown): Uint8Array {
  // The canonical text is well-formed UTF-16 (checked above), so hashing the
  // string hashes exactly its UTF-8 bytes, after the ASCII label and 0x00.
  return new Uint8Array(argsDigestBuffer(args));
}

/** argsDigest() as the Buffer node:crypto returns (no copy): the session paths need its bytes and its hex form once per call. */
export function argsDigestBuffer(args: unknown): Buffer {
  return hash('sha256', ARGS_LABEL_TEXT + serialize(args, 0), 'buffer') as unknown as Buffer;
}

/**
 * argsDigest() as lowercase hex, in one native call and without a Buffer: the
 * verifier needs only this form, once per checked call.
 */
export function argsDigestHex(args: unknown): string {
  return hash('sha256', ARGS_LABEL_TEXT + serialize(args, 0), 'hex');
}
