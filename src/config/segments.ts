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
 * twice must apply this rule itself to its decoded input. The same rules
 * apply to the value's NFKC form (a tool or file system that folds Unicode
 * reads fullwidth `．．／` as `../`), and a segment made only of dots and
 * spaces (`.. `, `...`) is refused too: Windows drops trailing dots and
 * spaces, so `.. ` opens `..`.
 */
import { ScopeResourceError } from '../errors.ts';

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\\\u0000-\u001f\u007f-\u009f]|%(?:2e|2f|5c)/i;

/** A segment a file system may read as `.` or `..`. */
const DOTS_AND_SPACES = /^[.\s]+$/u;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;
/** NFKC form; ASCII text is its own. */
const fold = (s: string) => (ASCII.test(s) ? s : s.normalize('NFKC'));

/** The resource text for a `{name*}` value: its segments, each encoded with `encode`, joined with `/`. */
export function renderSegments(name: string, v: unknown, encode: (segment: string) => string): string {
  if (typeof v !== 'string') {
    if (v === undefined || v === null) throw new ScopeResourceError(`the resource template needs argument "${name}", which the call does not give`);
    throw new ScopeResourceError(`argument "${name}" spans resource segments and must be a string`);
  }
  const folded = fold(v);
  if (FORBIDDEN.test(v) || FORBIDDEN.test(folded))
    throw new ScopeResourceError(`argument "${name}" holds a backslash, a control character or an encoded ".", "/" or "\\"`);
  const segs = v.split('/');
  if (folded.split('/').length !== segs.length) throw new ScopeResourceError(`argument "${name}" holds a character that folds to "/"`);
  let out = '';
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '' || DOTS_AND_SPACES.test(fold(s))) throw new ScopeResourceError(`argument "${name}" has an empty, "." or ".." segment`);
    out += (i ? '/' : '') + encode(s);
  }
  return out;
}
