/**
 * A shallow copy of a plain JSON-like object (own enumerable members), for
 * the objects rebuilt on every call (the params a client sends, the result a
 * session call returns). Not an object spread: in Node 20 a spread copy that
 * takes another member costs microseconds per call, a member-by-member copy
 * a few dozen nanoseconds. A `__proto__` member is defined, never assigned,
 * so it stays a member and cannot change the copy's prototype.
 */
export function copyOwn<T extends object>(o: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    const v = (o as Record<string, unknown>)[k];
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}
