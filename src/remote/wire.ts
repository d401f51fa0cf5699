/**
 * The JSON of the verification service, shared by the service and the
 * remote client (src/verify/remote.ts).
 *
 * POST /v1/verify request:
 *   { "token": "cft1.…", "invocation": "cfi1.…" | "cfb1.…", "tool": "name", "args": {…},
 *     "operation": "read", "resource": "scheme://…" }
 * `tool` and `args` are what the caller sees of the call (ExpectedCall);
 * `operation` and `resource` are required and must equal the proof's.
 * `approvals` (optional, at most 16 `cfa1.` texts) are signed approvals for
 * grants with an approval gate (docs/spec.md §15.3).
 *
 * Response (200 for every decision, allowed or denied):
 *   { "allowed": true,  "mode": "signed", "tool", "operation", "resource", "callId",
 *     "argsDigest", "subject", "chainIds", "grant": {…}, "expiresAt": 1767225600 }
 *   { "allowed": false, "mode": "signed", "code": "ERR_…", "reason": "…", …same call fields when known }
 *
 * POST /v1/verify/batch request (docs/spec.md §4.5):
 *   { "requests": [ request, … ],                     1 to 64 requests, answered in order
 *     "batches"?: [ { "payload": base64url, "signature": base64url }, … ] }
 * where a request is either the /v1/verify request above or one item of a
 * signed batch sent apart from it:
 *   { "token", "batch": k, "index": i, "item": base64url(item payload), "tool", "args", "operation", "resource" }
 * which the service verifies exactly as the batched proof
 * [item, batches[k].payload, batches[k].signature, i] (§4.4).
 * Response: { "decisions": [ decision, … ] }, one per request, in order.
 *
 * A request the service cannot read is answered 4xx with
 *   { "allowed": false, "code": "ERR_MALFORMED" | "ERR_TOO_LARGE" | …, "reason": "…" }
 */
import { z } from 'zod';
import { LIMITS } from '../token/limits.ts';
import type { ErrorCode } from '../errors.ts';
import { MAX_APPROVAL_BYTES, MAX_APPROVALS_PER_CALL } from '../token/approval.ts';

/** base64url length of n bytes plus a text prefix. */
const textLen = (bytes: number) => Math.ceil((bytes * 4) / 3) + 8;

export const verifyRequestSchema = z
  .object({
    token: z.string().min(6).max(textLen(LIMITS.maxTokenBytes)),
    // A single proof (cfi1.) or one call of a batched proof (cfb1., docs/spec.md §4.4); the verifier tells them apart.
    invocation: z
      .string()
      .min(6)
      .max(textLen(Math.max(LIMITS.maxInvocationBytes, LIMITS.maxBatchedInvocationBytes))),
    tool: z.string().min(1).max(LIMITS.maxStringBytes),
    args: z.record(z.string(), z.unknown()),
    // The call the caller is about to make: required, so the decision is never taken with the proof's own values alone.
    operation: z.string().min(1).max(LIMITS.maxStringBytes),
    resource: z.string().min(1).max(LIMITS.maxResourceBytes),
    // Signed approvals (docs/spec.md §15.3) for grants with an approval gate.
    approvals: z
      .array(z.string().min(6).max(textLen(MAX_APPROVAL_BYTES)))
      .max(MAX_APPROVALS_PER_CALL)
      .optional(),
  })
  .strict();

export type VerifyRequest = z.infer<typeof verifyRequestSchema>;

const base64url = (maxBytes: number) =>
  z
    .string()
    .min(1)
    .max(Math.ceil((maxBytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]+$/, { message: 'expected base64url' });

/** Most signed batches in one /v1/verify/batch request (each has at least one request). */
export const MAX_BATCHES_PER_REQUEST = 64;

/** One signed batch of a /v1/verify/batch request: its payload and signature (§4.5). */
export const signedBatchSchema = z
  .object({
    payload: base64url(LIMITS.maxBatchedInvocationBytes),
    signature: base64url(64),
  })
  .strict();

/** One request of /v1/verify/batch that is an item of a signed batch sent apart (§4.5). */
export const batchItemRequestSchema = z
  .object({
    token: verifyRequestSchema.shape.token,
    batch: z
      .number()
      .int()
      .min(0)
      .max(MAX_BATCHES_PER_REQUEST - 1),
    index: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.maxInvocationBatch - 1),
    item: base64url(LIMITS.maxInvocationBytes),
    tool: verifyRequestSchema.shape.tool,
    args: verifyRequestSchema.shape.args,
    operation: verifyRequestSchema.shape.operation,
    resource: verifyRequestSchema.shape.resource,
    approvals: verifyRequestSchema.shape.approvals,
  })
  .strict();

export type BatchItemRequest = z.infer<typeof batchItemRequestSchema>;

export { decisionToJson } from './decision-json.ts';

/**
 * Sessions over HTTP (docs/spec.md §13.7):
 *   POST /v1/session/nonce  {}                                   -> { nonce, serviceKey: "cfk1.…", expiresAt }
 *   POST /v1/session/open   { token, hello, signature }          -> { reply, signature }
 *   POST /v1/session/calls  { calls: [ sessionCall, … ] }        -> { answers: [ { counter, decision: "<json>", tag? }, … ] }
 * Binary fields are base64url without padding.
 */
export const sessionOpenSchema = z
  .object({
    token: z.string().min(6).max(textLen(LIMITS.maxTokenBytes)),
    hello: base64url(512),
    signature: base64url(64),
  })
  .strict();

const SESSION_CALL_KEYS = ['session', 'counter', 'tool', 'operation', 'resource', 'args', 'callId', 'exp', 'tag'] as const;
const B64U = /^[A-Za-z0-9_-]+$/;
const text = (v: unknown, max: number): boolean => typeof v === 'string' && v.length > 0 && v.length <= max;

/**
 * Checks the shape of one session call (§13.7): exactly its nine members,
 * typed and within their limits. Written by hand, not with zod: it runs once
 * per call on the service's hot path. Returns the reason when it is not one.
 */
export function sessionCallProblem(c: unknown): string | undefined {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return 'a session call is an object';
  const o = c as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    if (!(SESSION_CALL_KEYS as readonly string[]).includes(k)) return `unknown member ${JSON.stringify(k).slice(0, 40)}`;
    n++;
  }
  if (n !== SESSION_CALL_KEYS.length) return 'a session call has session, counter, tool, operation, resource, args, callId, exp and tag';
  if (typeof o.session !== 'string' || o.session.length !== 22 || !B64U.test(o.session)) return 'session: expected 16 bytes, base64url';
  if (typeof o.tag !== 'string' || o.tag.length !== 43 || !B64U.test(o.tag)) return 'tag: expected 32 bytes, base64url';
  if (typeof o.counter !== 'number' || !Number.isSafeInteger(o.counter) || o.counter < 1) return 'counter: expected an integer from 1 to 2^53-1';
  if (typeof o.exp !== 'number' || !Number.isInteger(o.exp) || o.exp < 0 || o.exp > 0xffffffff) return 'exp: expected unix seconds';
  if (!text(o.tool, LIMITS.maxStringBytes) || !text(o.operation, LIMITS.maxStringBytes) || !text(o.callId, LIMITS.maxStringBytes))
    return 'tool, operation and callId: expected 1 to 256 characters';
  if (!text(o.resource, LIMITS.maxResourceBytes)) return 'resource: expected 1 to 1024 characters';
  if (typeof o.args !== 'object' || o.args === null || Array.isArray(o.args)) return 'args: expected an object';
  return undefined;
}

/** Most calls in one /v1/session/calls request. */
export const MAX_SESSION_CALLS = 64;

export const sessionNonceResponseSchema = z.object({
  nonce: base64url(16),
  serviceKey: z.string().max(100),
  expiresAt: z.number(),
  maxTtl: z.number().int().min(1).optional(),
});
export const sessionOpenResponseSchema = z.object({ reply: base64url(512), signature: base64url(64) });
/** The answers of a /v1/session/calls response, checked by hand (per call, on the client's hot path); undefined when malformed. */
export function readSessionAnswers(json: unknown): { counter: number; decision: string; tag?: string }[] | undefined {
  const a = (json as { answers?: unknown })?.answers;
  if (!Array.isArray(a)) return undefined;
  for (const x of a) {
    if (typeof x !== 'object' || x === null) return undefined;
    const o = x as { counter?: unknown; decision?: unknown; tag?: unknown };
    if (typeof o.counter !== 'number' || typeof o.decision !== 'string' || o.decision.length > 64 * 1024) return undefined;
    if (o.tag !== undefined && (typeof o.tag !== 'string' || o.tag.length !== 43)) return undefined;
  }
  return a as { counter: number; decision: string; tag?: string }[];
}

/** Any code of the form ERR_… (a newer service may know codes this client does not; they stay denials). */
const errorCode = z
  .string()
  .regex(/^ERR_[A-Z0-9_]{1,60}$/)
  .transform((c) => c as ErrorCode);

const callFields = {
  mode: z.enum(['signed', 'local', 'session']),
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
    mode: z.enum(['signed', 'local', 'session']).optional(),
    code: errorCode,
    reason: z.string(),
    /** ERR_LIMIT: which limit, and when it resets (docs/spec.md §14.5). */
    limit: z
      .object({
        block: z.number().int().min(0),
        blockId: z.string().max(64),
        grant: z.number().int().min(0),
        kind: z.enum(['rate', 'budget']),
        limit: z.string().max(64),
        arg: z.string().max(256).optional(),
        per: z.number().int().min(1).optional(),
        resetsAt: z.number().int().min(0).optional(),
      })
      .optional(),
    // ERR_APPROVAL_REQUIRED: the counts and the gate (docs/spec.md §15.4).
    approval: z
      .object({
        got: z.number().int().min(0).max(16),
        need: z.number().int().min(1).max(16),
        approvers: z.array(z.string().max(64)).max(16),
        tip: z.string().regex(/^[0-9a-f]{32}$/),
      })
      .optional(),
  }),
]);

export type DecisionResponse = z.infer<typeof decisionResponseSchema>;
