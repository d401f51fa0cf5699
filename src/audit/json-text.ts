/**
 * A string as JSON text, exactly as JSON.stringify writes it, without the
 * call for the common case: text with nothing to escape (no quote,
 * backslash, control character or surrogate) is only quoted.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}
