/**
 * Every failure capframe reports is a `CapframeError` with a stable `code`,
 * and each code has its own class (with the code as a static member too), so
 * both `e.code === 'ERR_EXPIRED'` and `e instanceof errors.ExpiredError`
 * work. Codes are part of the public API: they never change meaning.
 * Messages may.
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
  | 'ERR_UNAUTHORIZED'
  | 'ERR_SESSION_UNKNOWN'
  | 'ERR_SESSION_TAG'
  | 'ERR_SESSION_COUNTER'
  | 'ERR_SESSION_LIMIT'
  | 'ERR_SESSION_ANSWER'
  | 'ERR_LIMIT'
  | 'ERR_APPROVAL_REQUIRED'
  | 'ERR_INTERNAL';

export class CapframeError extends Error {
  /** The code of errors of this class; `ERR_INTERNAL` for the base class. */
  static readonly code: ErrorCode = 'ERR_INTERNAL';
  /** Stable machine-readable code, e.g. `ERR_EXPIRED`. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes or text that do not follow the wire format (docs/spec.md), including non-canonical CBOR, unknown fields or versions. */
export class MalformedError extends CapframeError {
  static override readonly code = 'ERR_MALFORMED' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MALFORMED', message, options);
  }
}
/** Input larger than a size limit; refused before any parsing. */
export class TooLargeError extends CapframeError {
  static override readonly code = 'ERR_TOO_LARGE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TOO_LARGE', message, options);
  }
}
/** A block or invocation signature does not verify, or a block is not linked to its parent. */
export class SignatureInvalidError extends CapframeError {
  static override readonly code = 'ERR_SIGNATURE_INVALID' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIGNATURE_INVALID', message, options);
  }
}
/** The root block names an authority key that the verifier does not trust (or no longer trusts). */
export class UnknownKeyError extends CapframeError {
  static override readonly code = 'ERR_UNKNOWN_KEY' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNKNOWN_KEY', message, options);
  }
}
/** The token or the invocation proof is past its expiry (beyond the tolerated clock skew). */
export class ExpiredError extends CapframeError {
  static override readonly code = 'ERR_EXPIRED' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EXPIRED', message, options);
  }
}
/** The token or the invocation proof is not valid yet (beyond the tolerated clock skew). */
export class NotYetValidError extends CapframeError {
  static override readonly code = 'ERR_NOT_YET_VALID' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_YET_VALID', message, options);
  }
}
/** The call's concrete resource lies outside every grant of some block, or is not an acceptable resource. */
export class ScopeResourceError extends CapframeError {
  static override readonly code = 'ERR_SCOPE_RESOURCE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SCOPE_RESOURCE', message, options);
  }
}
/** A grant covers the resource but not the requested operation. */
export class ScopePermissionError extends CapframeError {
  static override readonly code = 'ERR_SCOPE_PERMISSION' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SCOPE_PERMISSION', message, options);
  }
}
/** An argument constraint of some block (or of the tool policy) does not hold for the call's arguments. */
export class ConstraintError extends CapframeError {
  static override readonly code = 'ERR_CONSTRAINT' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONSTRAINT', message, options);
  }
}
/** A delegation asks for more than its parent holds (at delegation or at verification). */
export class AttenuationError extends CapframeError {
  static override readonly code = 'ERR_ATTENUATION' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ATTENUATION', message, options);
  }
}
/** The chain is longer than its blocks or the verifier allow. */
export class DepthError extends CapframeError {
  static override readonly code = 'ERR_DEPTH' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DEPTH', message, options);
  }
}
/** The invocation proof is for another token, tool, operation, resource or argument set. */
export class InvocationMismatchError extends CapframeError {
  static override readonly code = 'ERR_INVOCATION_MISMATCH' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVOCATION_MISMATCH', message, options);
  }
}
/** This invocation was already used. */
export class ReplayError extends CapframeError {
  static override readonly code = 'ERR_REPLAY' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REPLAY', message, options);
  }
}
/** A block of the chain, its subject or its authority key has been revoked. */
export class RevokedError extends CapframeError {
  static override readonly code = 'ERR_REVOKED' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REVOKED', message, options);
  }
}
/** The verifier could not refresh its revocation state within its maximum age: denied rather than trusted. */
export class RevocationStaleError extends CapframeError {
  static override readonly code = 'ERR_REVOCATION_STALE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REVOCATION_STALE', message, options);
  }
}
/** A revocation snapshot older than the one already held was offered. */
export class RevocationRollbackError extends CapframeError {
  static override readonly code = 'ERR_REVOCATION_ROLLBACK' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REVOCATION_ROLLBACK', message, options);
  }
}
/** A caller of the library passed an unusable option (wrong type, out of range). */
export class InvalidArgumentError extends CapframeError {
  static override readonly code = 'ERR_INVALID_ARGUMENT' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}
/** A guarded call came without credentials (no token or no holder key in the run config). */
export class MissingTokenError extends CapframeError {
  static override readonly code = 'ERR_MISSING_TOKEN' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MISSING_TOKEN', message, options);
  }
}
/** A guarded tool has no token schema (policy): denied by default. */
export class NoSchemaError extends CapframeError {
  static override readonly code = 'ERR_NO_SCHEMA' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NO_SCHEMA', message, options);
  }
}
/** A config file, section or option is invalid; the message names the file, line and field. */
export class ConfigError extends CapframeError {
  static override readonly code = 'ERR_CONFIG' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}
/** A dependency (the verification service, a replay or revocation store, a full replay cache) cannot answer: denied. */
export class UnavailableError extends CapframeError {
  static override readonly code = 'ERR_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNAVAILABLE', message, options);
  }
}
/** Which limit refused a call (docs/spec.md §14): on `LimitError.limit`. */
export interface LimitDetails {
  /** Index of the block whose grant carries the limit (0 = root). */
  readonly block: number;
  /** That block's id (hex). */
  readonly blockId: string;
  /** Index of the grant within the block's grants. */
  readonly grant: number;
  readonly kind: 'rate' | 'budget';
  /** rate: calls per window; budget: the total, decimal text. */
  readonly limit: string;
  /** budget: the argument path summed. */
  readonly arg?: string;
  /** Window length in seconds; absent for a budget over the block's whole life. */
  readonly per?: number;
  /** When the window ends and the counter starts again (unix seconds); absent: never (the block's life). */
  readonly resetsAt?: number;
}
/** A rate limit or budget of a block of the chain is used up (docs/spec.md §14). */
export class LimitError extends CapframeError {
  static override readonly code = 'ERR_LIMIT' as const;
  readonly limit: LimitDetails | undefined;
  constructor(message: string, options?: { cause?: unknown; limit?: LimitDetails }) {
    super('ERR_LIMIT', message, options);
    this.limit = options?.limit;
  }
}
/** A missing or wrong admin credential (HTTP 401 from the service's admin endpoints). */
export class UnauthorizedError extends CapframeError {
  static override readonly code = 'ERR_UNAUTHORIZED' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNAUTHORIZED', message, options);
  }
}
/** A session call names a session the service does not hold (never opened, expired, dropped, or the service restarted): the client opens a new one. */
export class SessionUnknownError extends CapframeError {
  static override readonly code = 'ERR_SESSION_UNKNOWN' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SESSION_UNKNOWN', message, options);
  }
}
/** A session call's HMAC tag does not verify under the session's key (forged or altered call). */
export class SessionTagError extends CapframeError {
  static override readonly code = 'ERR_SESSION_TAG' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SESSION_TAG', message, options);
  }
}
/** A session call's counter is too far ahead of the highest one seen (a counter seen twice is ERR_REPLAY). */
export class SessionCounterError extends CapframeError {
  static override readonly code = 'ERR_SESSION_COUNTER' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SESSION_COUNTER', message, options);
  }
}
/** A session cap or handshake rate limit is reached: no new session now. */
export class SessionLimitError extends CapframeError {
  static override readonly code = 'ERR_SESSION_LIMIT' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SESSION_LIMIT', message, options);
  }
}
/** The service's answer (or handshake reply) is not authenticated for this call: forged, replayed, mismatched or signed by another key. Always a denial. */
export class SessionAnswerError extends CapframeError {
  static override readonly code = 'ERR_SESSION_ANSWER' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SESSION_ANSWER', message, options);
  }
}
/** What an ERR_APPROVAL_REQUIRED denial reports: how many valid approvals the call has and needs, and from whom. */
export interface ApprovalNeed {
  /** Distinct approvers whose valid approval the call carries. */
  readonly got?: number;
  /** The gate's threshold. */
  readonly need?: number;
  /** The gate's approver keys (cfk1. text). */
  readonly approvers?: readonly string[];
  /** Hex tip of the token the call is made with (what an approval signs). */
  readonly tip?: string;
}
/** A grant that allows the call requires signed approvals (docs/spec.md §15) and the call carries fewer valid ones than its threshold. */
export class ApprovalRequiredError extends CapframeError {
  static override readonly code = 'ERR_APPROVAL_REQUIRED' as const;
  readonly got: number;
  readonly need: number;
  readonly approvers: readonly string[];
  readonly tip: string | undefined;
  constructor(message: string, options?: { cause?: unknown } & ApprovalNeed) {
    super('ERR_APPROVAL_REQUIRED', message, options);
    this.got = options?.got ?? 0;
    this.need = options?.need ?? 1;
    this.approvers = Object.freeze([...(options?.approvers ?? [])]);
    this.tip = options?.tip;
  }
}
/** A bug in capframe; still a denial. */
export class InternalError extends CapframeError {
  static override readonly code = 'ERR_INTERNAL' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INTERNAL', message, options);
  }
}
