/**
 * Multi-segment placeholders of resource templates (`file://home/{path*}`):
 * the argument is a relative path that becomes one or more resource
 * segments. It is split on `/`, and each segment is checked and then
 * percent-encoded on its own (as a `{name}` value is), so the only `/` in the
 * result are the separators the value's own segments produce.
 *
 * Denied (ERR_SCOPE_RESOURCE, never rewritten): a value that is not a string;
 * an empty value or empty segment (leading, trailing or doubled `/`); a `.`
 * or `..` segment; a backslash or control character; and any `%2e`, `%2f` or
 * `%5c` (any case). The last rule makes the check and the tool agree: a tool
 * that URL-decodes its input would read `%2e%2e` as `..`, so such a value is
 * refused rather than checked as a harmless literal. A tool that decodes
 * twice must apply this rule itself to its decoded input.
 */
import { ScopeResourceError } from '../errors.ts';

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\\\u0000-\u001f\u007f-\u009f]|%(?:2e|2f|5c)/i;

/** The resource text for a `{name*}` value: its segments, each encoded with `encode`, joined with `/`. */
export function renderSegments(name: string, v: unknown, encode: (segment: string) => string): string {
  if (typeof v !== 'string') {
    if (v === undefined || v === null) throw new ScopeResourceError(`the resource template needs argument "${name}", which the call does not give`);
    throw new ScopeResourceError(`argument "${name}" spans resource segments and must be a string`);
  }
  if (FORBIDDEN.test(v)) throw new ScopeResourceError(`argument "${name}" holds a backslash, a control character or an encoded ".", "/" or "\\"`);
  const segs = v.split('/');
  let out = '';
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '' || s === '.' || s === '..') throw new ScopeResourceError(`argument "${name}" has an empty, "." or ".." segment`);
    out += (i ? '/' : '') + encode(s);
  }
  return out;
}
