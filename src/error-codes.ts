/**
 * Conversions between errors and codes, for the library's own boundaries
 * (decisions that arrive as JSON, callbacks that throw anything).
 */
import * as errors from './errors.ts';
import { CapframeError, type ErrorCode } from './errors.ts';

type ErrorClass = (new (message: string, options?: { cause?: unknown }) => CapframeError) & { readonly code: ErrorCode };

const CLASSES = new Map<ErrorCode, ErrorClass>();
for (const value of Object.values(errors)) {
  if (typeof value === 'function' && value !== CapframeError && value.prototype instanceof CapframeError) {
    const C = value as ErrorClass;
    CLASSES.set(C.code, C);
  }
}

/** The CapframeError subclass for a code (so `instanceof ExpiredError` works on decisions that came as JSON). */
export function errorFromCode(code: ErrorCode, message: string, options?: { cause?: unknown }): CapframeError {
  const C = CLASSES.get(code);
  return C ? new C(message, options) : new CapframeError(code, message, options);
}

/** Wraps anything thrown into a CapframeError so that callers only ever see typed errors. */
export function toCapframeError(e: unknown, fallback: ErrorCode = 'ERR_INTERNAL'): CapframeError {
  if (e instanceof CapframeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return errorFromCode(fallback, message, { cause: e });
}

/** Every code that has a class (all of them). */
export function knownCodes(): ErrorCode[] {
  return [...CLASSES.keys()];
}
