/**
 * Resource templates: `database://{db}/{table}` -> a concrete resource built
 * from a tool call's arguments.
 *
 * Every argument value is percent-encoded on its own (UTF-8, every byte
 * outside the RFC 3986 unreserved set `A-Z a-z 0-9 - . _ ~` becomes `%XX`),
 * so a value can never add a `/`, a `*` wildcard or a new scheme. A value
 * that is exactly `.` or `..` is encoded as `%2E` / `%2E%2E`; the core then
 * refuses the resource (dot segment), as it refuses an encoded `/` (`%2F`) or
 * a control character: such calls are denied (fail closed), never rewritten.
 *
 * The scheme and `://` are literal: a template cannot start with `{`.
 *
 * A placeholder `{name*}` spans segments (`file://home/{path*}`): it must
 * fill whole segments (a `/` before it, a `/` or the end after it), and its
 * value is split and checked by ./segments.ts.
 */
import { InvalidArgumentError, ScopeResourceError } from '../errors.ts';
import { normalizeResource } from '../token/resource.ts';
import { LIMITS } from '../token/limits.ts';
import { renderSegments } from './segments.ts';

const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const UNRESERVED_BYTE = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED_BYTE[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';
const SAFE_VALUE = /^[A-Za-z0-9\-_~][A-Za-z0-9\-._~]*$/;

/** Percent-encodes one argument value for use inside a path segment. */
export function encodeValue(value: string): string {
  if (value === '.') return '%2E';
  if (value === '..') return '%2E%2E';
  if (SAFE_VALUE.test(value)) return value; // fast path: nothing to encode
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b < 128 && UNRESERVED_BYTE[b]) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

export interface ResourceTemplate {
  /** The template text as written. */
  readonly text: string;
  /** Argument names it reads, in order of first use. */
  readonly args: readonly string[];
  /**
   * The concrete (normalised) resource for these arguments. Throws
   * ScopeResourceError (ERR_SCOPE_RESOURCE) when an argument is missing or not
   * a string/number/boolean, or when the result is not an acceptable resource.
   */
  render(args: Readonly<Record<string, unknown>>): string;
}

/** Parses a template; throws InvalidArgumentError with a reason when it is not usable. */
export function compileTemplate(text: string): ResourceTemplate {
  if (typeof text !== 'string' || text.length === 0) throw new InvalidArgumentError('a resource template is a non-empty string');
  const sep = text.indexOf('://');
  if (sep <= 0 || text.slice(0, sep).includes('{')) {
    throw new InvalidArgumentError('a resource template starts with a literal scheme, e.g. "tickets://{id}"');
  }
  const parts: (string | { arg: string; multi?: true })[] = [];
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    const close = text.indexOf('}', i);
    if (close !== -1 && (open === -1 || close < open)) throw new InvalidArgumentError(`unmatched "}" at offset ${close}`);
    if (open === -1) {
      parts.push(text.slice(i));
      break;
    }
    if (open > i) parts.push(text.slice(i, open));
    const end = text.indexOf('}', open);
    if (end === -1) throw new InvalidArgumentError(`unclosed "{" at offset ${open}`);
    const inner = text.slice(open + 1, end);
    const multi = inner.endsWith('*');
    const name = multi ? inner.slice(0, -1) : inner;
    if (!ARG_NAME.test(name))
      throw new InvalidArgumentError(`${JSON.stringify('{' + inner + '}')} is not an argument placeholder (use {name} or {name*}, letters, digits, _ and -)`);
    if (multi && (text[open - 1] !== '/' || (end + 1 < text.length && text[end + 1] !== '/'))) {
      throw new InvalidArgumentError(`{${name}*} spans whole segments: put it between "/" and "/" or at the end`);
    }
    parts.push(multi ? { arg: name, multi: true } : { arg: name });
    if (!args.includes(name)) args.push(name);
    i = end + 1;
  }
  // The literal parts must already form a resource in normal form.
  const sample = parts.map((p) => (typeof p === 'string' ? p : 'x')).join('');
  let normal: string;
  try {
    normal = normalizeResource(sample);
  } catch (e) {
    throw new InvalidArgumentError(`not a valid resource template: ${(e as Error).message.replace(/^invalid resource "[^"]*": /, '')}`);
  }
  if (normal !== sample) throw new InvalidArgumentError('the literal parts are not in normal form (lowercase scheme, no needless percent-encoding)');

  const frozenParts = Object.freeze(parts);
  return Object.freeze({
    text,
    args: Object.freeze(args),
    render(values: Readonly<Record<string, unknown>>): string {
      let out = '';
      let normal = true;
      for (const p of frozenParts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = Object.prototype.hasOwnProperty.call(values, p.arg) ? values[p.arg] : undefined;
        if (p.multi) {
          out += renderSegments(p.arg, v, encodeValue);
          normal = false;
          continue;
        }
        let s: string;
        if (typeof v === 'string') s = v;
        else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
        else if (typeof v === 'boolean') s = v ? 'true' : 'false';
        else if (v === undefined || v === null) throw new ScopeResourceError(`the resource template needs argument "${p.arg}", which the call does not give`);
        else throw new ScopeResourceError(`argument "${p.arg}" is used in the resource and must be a string, number or boolean`);
        if (SAFE_VALUE.test(s)) out += s;
        else {
          out += encodeValue(s);
          normal = false;
        }
      }
      // Literal parts are in normal form (checked above) and a safe value (unreserved characters, not
      // starting with ".") cannot make a segment empty, a dot segment or a wildcard: only the length
      // is left to check. Anything else goes through the core's normalisation, which refuses
      // encoded "/", dot segments and control characters.
      return normal && out.length <= LIMITS.maxResourceBytes ? out : normalizeResource(out);
    },
  });
}
