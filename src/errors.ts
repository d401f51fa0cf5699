/**
 * Every failure capframe reports is a `CapframeError` with a stable `code`.
 * Codes are part of the public API: they never change meaning. Messages may.
 */
export type ErrorCode =
  | 'ERR_MALFORMED'
  | 'ERR_TOO_LARGE'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_UNKNOWN_KEY'
  | 'ERR_EXPIRED'
  | 'ERR_NOT_YET_VALID'
  | 'ERR_SCOPE_RESOURCE'
  | 'ERR_SCOPE_PERMISSION'
  | 'ERR_CONSTRAINT'
  | 'ERR_ATTENUATION'
  | 'ERR_DEPTH'
  | 'ERR_INVOCATION_MISMATCH'
  | 'ERR_REPLAY'
  | 'ERR_REVOKED'
  | 'ERR_REVOCATION_STALE'
  | 'ERR_REVOCATION_ROLLBACK'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_MISSING_TOKEN'
  | 'ERR_NO_SCHEMA'
  | 'ERR_CONFIG'
  | 'ERR_UNAVAILABLE'
  // HTTP 401 from the service's admin endpoint (POST /v1/revoke): missing or wrong bearer secret.
  | 'ERR_UNAUTHORIZED'
  | 'ERR_INTERNAL';

export class CapframeError extends Error {
  /** Stable machine-readable code, e.g. `ERR_EXPIRED`. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes or text that do not follow the wire format (docs/spec.md). */
export class MalformedError extends CapframeError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_MALFORMED', message, options); }
}
/** Input larger than a configured limit; rejected before any parsing. */
export class TooLargeError extends CapframeError {
  constructor(message: string) { super('ERR_TOO_LARGE', message); }
}
export class SignatureInvalidError extends CapframeError {
  constructor(message: string) { super('ERR_SIGNATURE_INVALID', message); }
}
/** The root block names an authority key that the verifier does not trust. */
export class UnknownKeyError extends CapframeError {
  constructor(message: string) { super('ERR_UNKNOWN_KEY', message); }
}
export class ExpiredError extends CapframeError {
  constructor(message: string) { super('ERR_EXPIRED', message); }
}
export class NotYetValidError extends CapframeError {
  constructor(message: string) { super('ERR_NOT_YET_VALID', message); }
}
/** The call's concrete resource lies outside every grant of some block. */
export class ScopeResourceError extends CapframeError {
  constructor(message: string) { super('ERR_SCOPE_RESOURCE', message); }
}
/** A grant covers the resource but not the requested operation. */
export class ScopePermissionError extends CapframeError {
  constructor(message: string) { super('ERR_SCOPE_PERMISSION', message); }
}
/** An argument constraint of some block does not hold for the call's arguments. */
export class ConstraintError extends CapframeError {
  constructor(message: string) { super('ERR_CONSTRAINT', message); }
}
/** A delegation asks for more than its parent holds (at delegation or at verify time). */
export class AttenuationError extends CapframeError {
  constructor(message: string) { super('ERR_ATTENUATION', message); }
}
/** The chain is longer than allowed by its blocks or by the verifier's limit. */
export class DepthError extends CapframeError {
  constructor(message: string) { super('ERR_DEPTH', message); }
}
/** The invocation proof is for another token, tool, operation, resource or argument set. */
export class InvocationMismatchError extends CapframeError {
  constructor(message: string) { super('ERR_INVOCATION_MISMATCH', message); }
}
export class ReplayError extends CapframeError {
  constructor(message: string) { super('ERR_REPLAY', message); }
}
export class RevokedError extends CapframeError {
  constructor(message: string) { super('ERR_REVOKED', message); }
}
export class RevocationStaleError extends CapframeError {
  constructor(message: string) { super('ERR_REVOCATION_STALE', message); }
}
/** A revocation snapshot older than the one already held was offered (rollback attempt). */
export class RevocationRollbackError extends CapframeError {
  constructor(message: string) { super('ERR_REVOCATION_ROLLBACK', message); }
}
/** A caller of the library passed an unusable option (wrong type, out of range). */
export class InvalidArgumentError extends CapframeError {
  constructor(message: string) { super('ERR_INVALID_ARGUMENT', message); }
}

/** Wraps anything thrown into a CapframeError so that callers only ever see typed errors. */
export function toCapframeError(e: unknown, fallback: ErrorCode = 'ERR_INTERNAL'): CapframeError {
  if (e instanceof CapframeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CapframeError(fallback, message, { cause: e });
}

type ErrorClass = new (message: string) => CapframeError;
const CLASSES: Partial<Record<ErrorCode, ErrorClass>> = {
  ERR_MALFORMED: MalformedError, ERR_TOO_LARGE: TooLargeError, ERR_SIGNATURE_INVALID: SignatureInvalidError,
  ERR_UNKNOWN_KEY: UnknownKeyError, ERR_EXPIRED: ExpiredError, ERR_NOT_YET_VALID: NotYetValidError,
  ERR_SCOPE_RESOURCE: ScopeResourceError, ERR_SCOPE_PERMISSION: ScopePermissionError, ERR_CONSTRAINT: ConstraintError,
  ERR_ATTENUATION: AttenuationError, ERR_DEPTH: DepthError, ERR_INVOCATION_MISMATCH: InvocationMismatchError,
  ERR_REPLAY: ReplayError, ERR_REVOKED: RevokedError, ERR_REVOCATION_STALE: RevocationStaleError,
  ERR_REVOCATION_ROLLBACK: RevocationRollbackError, ERR_INVALID_ARGUMENT: InvalidArgumentError,
};

/** The CapframeError subclass for a code (so `instanceof ExpiredError` works on decisions that came as JSON). */
export function errorFromCode(code: ErrorCode, message: string): CapframeError {
  const C = CLASSES[code];
  return C ? new C(message) : new CapframeError(code, message);
}
