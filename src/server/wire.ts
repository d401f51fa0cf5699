/**
 * The JSON of the verification service, shared by the service and the
 * remote client (src/verify/remote.ts).
 *
 * POST /v1/verify request:
 *   { "token": "cft1.…", "invocation": "cfi1.…" | "cfb1.…", "tool": "name", "args": {…},
 *     "operation"?: "read", "resource"?: "scheme://…" }
 * `tool` and `args` are what the caller sees of the call (ExpectedCall);
 * `operation` and `resource`, when given, must equal the proof's.
 *
 * Response (200 for every decision, allowed or denied):
 *   { "allowed": true,  "mode": "signed", "tool", "operation", "resource", "callId",
 *     "argsDigest", "subject", "chainIds", "grant": {…}, "expiresAt": 1767225600 }
 *   { "allowed": false, "mode": "signed", "code": "ERR_…", "reason": "…", …same call fields when known }
 * A request the service cannot read is answered 4xx with
 *   { "allowed": false, "code": "ERR_MALFORMED" | "ERR_TOO_LARGE" | …, "reason": "…" }
 */
import { z } from 'zod';
import { LIMITS } from '../token/limits.ts';
import type { Decision } from '../verify/verifier.ts';
import type { ErrorCode } from '../errors.ts';

/** base64url length of n bytes plus a text prefix. */
const textLen = (bytes: number) => Math.ceil((bytes * 4) / 3) + 8;

export const verifyRequestSchema = z.object({
  token: z.string().min(6).max(textLen(LIMITS.maxTokenBytes)),
  // A single proof (cfi1.) or one call of a batched proof (cfb1., docs/spec.md §4.4); the verifier tells them apart.
  invocation: z.string().min(6).max(textLen(Math.max(LIMITS.maxInvocationBytes, LIMITS.maxBatchedInvocationBytes))),
  tool: z.string().min(1).max(LIMITS.maxStringBytes),
  args: z.record(z.string(), z.unknown()),
  operation: z.string().min(1).max(LIMITS.maxStringBytes).optional(),
  resource: z.string().min(1).max(LIMITS.maxResourceBytes).optional(),
}).strict();

export type VerifyRequest = z.infer<typeof verifyRequestSchema>;

/** The JSON form of a Decision (the error object becomes code + reason). */
export function decisionToJson(d: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = { allowed: d.allowed, mode: d.mode };
  if (!d.allowed) {
    out.code = d.code;
    out.reason = d.reason;
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

/** Any code of the form ERR_… (a newer service may know codes this client does not; they stay denials). */
const errorCode = z.string().regex(/^ERR_[A-Z0-9_]{1,60}$/).transform((c) => c as ErrorCode);

const callFields = {
  mode: z.enum(['signed', 'local']),
  tool: z.string().optional(),
  operation: z.string().optional(),
  resource: z.string().optional(),
  callId: z.string().optional(),
  argsDigest: z.string().optional(),
  subject: z.string().optional(),
  chainIds: z.array(z.string()).optional(),
};

const constraintSchema = z.record(z.string(), z.unknown());

/** What the client accepts back from the service (anything else: ERR_UNAVAILABLE). */
export const decisionResponseSchema = z.discriminatedUnion('allowed', [
  z.object({
    allowed: z.literal(true),
    ...callFields,
    grant: z.object({
      resource: z.string(),
      permissions: z.array(z.string()),
      constraints: z.record(z.string(), z.array(constraintSchema)),
    }),
    expiresAt: z.number(),
  }),
  z.object({
    allowed: z.literal(false),
    ...callFields,
    mode: z.enum(['signed', 'local']).optional(),
    code: errorCode,
    reason: z.string(),
  }),
]);

export type DecisionResponse = z.infer<typeof decisionResponseSchema>;
