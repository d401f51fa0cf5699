/**
 * Canonical form of a call's arguments: RFC 8785 JSON Canonicalization Scheme
 * (JCS), then SHA-256 with a domain label (docs/spec.md §4.3). Accepts only
 * JSON data: plain objects, arrays, strings (well-formed UTF-16), finite
 * numbers, booleans and null. Object members whose value is `undefined` are
 * omitted, as JSON.stringify does.
 */
import { InvalidArgumentError } from '../errors.ts';
import { label, sha256 } from '../crypto/hash.ts';

const ARGS_LABEL = label('capframe-v1-args');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serialize(v: unknown, depth: number, out: string[]): void {
  if (depth > 64) throw new InvalidArgumentError('arguments nested deeper than 64 levels');
  if (v === null) { out.push('null'); return; }
  switch (typeof v) {
    case 'boolean': out.push(v ? 'true' : 'false'); return;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidArgumentError('arguments contain a non-finite number');
      out.push(JSON.stringify(v)); // ECMAScript Number serialisation, as JCS requires
      return;
    case 'string':
      if (LONE_SURROGATE.test(v)) throw new InvalidArgumentError('arguments contain a lone UTF-16 surrogate');
      out.push(JSON.stringify(v));
      return;
    case 'object': {
      if (Array.isArray(v)) {
        out.push('[');
        v.forEach((item, i) => {
          if (i) out.push(',');
          serialize(item === undefined ? null : item, depth + 1, out);
        });
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new InvalidArgumentError('arguments contain a non-plain object');
      // JCS sorts member names by UTF-16 code units, which is what the default sort does.
      const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
      out.push('{');
      keys.forEach((k, i) => {
        if (i) out.push(',');
        if (LONE_SURROGATE.test(k)) throw new InvalidArgumentError('argument name contains a lone UTF-16 surrogate');
        out.push(JSON.stringify(k), ':');
        serialize((v as Record<string, unknown>)[k], depth + 1, out);
      });
      out.push('}');
      return;
    }
    default:
      throw new InvalidArgumentError(`arguments contain a value of type ${typeof v}`);
  }
}

/** RFC 8785 canonical JSON text of `args`. */
export function canonicalJson(args: unknown): string {
  const out: string[] = [];
  serialize(args, 0, out);
  return out.join('');
}

/** SHA-256("capframe-v1-args" 0x00 || UTF-8(JCS(args))), 32 bytes. */
export function argsDigest(args: unknown): Uint8Array {
  return sha256(ARGS_LABEL, Buffer.from(canonicalJson(args), 'utf8'));
}
