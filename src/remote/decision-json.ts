/**
 * The JSON form of a Decision, as the verification service answers it
 * (src/remote/wire.ts documents the whole exchange). Kept apart from the
 * request schemas so that `capframe verify --json` prints the same object
 * without loading zod.
 */
import type { Decision } from '../verify/verifier.ts';
import { ApprovalRequiredError, LimitError } from '../errors.ts';

/** The JSON form of a Decision (the error object becomes code + reason). */
export function decisionToJson(d: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = { allowed: d.allowed, mode: d.mode };
  if (!d.allowed) {
    out.code = d.code;
    out.reason = d.reason;
    // ERR_LIMIT: which block's limit, and when it resets (docs/spec.md §14.5).
    if (d.error instanceof LimitError && d.error.limit) out.limit = d.error.limit;
    const e = d.error;
    if (e instanceof ApprovalRequiredError && e.tip !== undefined) out.approval = { got: e.got, need: e.need, approvers: e.approvers, tip: e.tip };
  }
  for (const k of ['tool', 'operation', 'resource', 'callId', 'argsDigest', 'subject', 'chainIds'] as const) {
    if (d[k] !== undefined) out[k] = d[k];
  }
  if (d.allowed) {
    out.grant = d.grant;
    out.expiresAt = d.expiresAt;
  }
  return out;
}
