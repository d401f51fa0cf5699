/**
 * Signing approvals (docs/spec.md §15.2) with an approver's Signer: a key
 * file, a WebCrypto key, an HSM or a KMS.
 */
import { systemClock, type Clock } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import { formatPublicKey } from '../crypto/keys.ts';
import type { Signer } from '../crypto/signer.ts';
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import { argsDigest } from '../token/args.ts';
import {
  Approval,
  approvalSignedMessage,
  DEFAULT_APPROVAL_LIFETIME,
  encodeApprovalPayload,
  MAX_APPROVAL_LIFETIME,
  decodeApprovalPayload,
} from '../token/approval.ts';
import { parseApprovalRequest, type ApprovalRequest } from '../token/approval-request.ts';
import { normalizeResource } from '../token/resource.ts';

/** The call an approval is for. */
export interface ApprovalCall {
  /** Tip of the token the call is made with: 16 bytes or 32 hex digits. */
  readonly tip: Uint8Array | string;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource (normalised before signing). */
  readonly resource: string;
  /** The arguments (their digest is signed), or `argsDigest` instead. */
  readonly args?: Readonly<Record<string, unknown>>;
  /** Argument digest: 32 bytes or 64 hex digits. */
  readonly argsDigest?: Uint8Array | string;
  readonly callId: string;
}

export interface ApprovalOptions {
  /** Lifetime: seconds or a duration such as `'10m'`. Default 600 s, at most 3600 s. */
  readonly ttl?: number | string;
  readonly clock?: Clock;
}

function bytes(v: Uint8Array | string | undefined, n: number, what: string): Uint8Array {
  if (v instanceof Uint8Array && v.length === n) return Uint8Array.from(v);
  if (typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${n * 2}}$`).test(v)) return Uint8Array.from(Buffer.from(v, 'hex'));
  throw new InvalidArgumentError(`${what} must be ${n} bytes or ${n * 2} hex digits`);
}

/** Signs an approval of one call. The result is checked by decoding it again (a bad field is ERR_INVALID_ARGUMENT). */
export async function signApproval(signer: Signer, call: ApprovalCall, options: ApprovalOptions = {}): Promise<Approval> {
  if (!signer || typeof signer.sign !== 'function' || !(signer.publicKey instanceof Uint8Array))
    throw new InvalidArgumentError('signApproval() needs a Signer');
  if (!call || typeof call !== 'object') throw new InvalidArgumentError('signApproval() needs the call');
  const ttl = options.ttl === undefined ? DEFAULT_APPROVAL_LIFETIME : parseDuration(options.ttl);
  if (!(ttl >= 1 && ttl <= MAX_APPROVAL_LIFETIME)) throw new InvalidArgumentError(`approval lifetime must be 1 to ${MAX_APPROVAL_LIFETIME} seconds`);
  if (call.args !== undefined && call.argsDigest !== undefined) throw new InvalidArgumentError('give args or argsDigest, not both');
  const digest = call.args !== undefined ? argsDigest(call.args) : bytes(call.argsDigest, 32, 'argsDigest');
  const now = Math.floor((options.clock ?? systemClock)());
  const payload = encodeApprovalPayload({
    tip: bytes(call.tip, 16, 'tip'),
    tool: call.tool,
    operation: call.operation,
    resource: normalizeResource(call.resource),
    args: digest,
    callId: call.callId,
    approver: Uint8Array.from(signer.publicKey),
    iat: now,
    exp: now + ttl,
  });
  try {
    decodeApprovalPayload(payload);
  } catch (e) {
    if (e instanceof MalformedError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  const signature = await signer.sign(approvalSignedMessage(payload));
  return Approval.fromParts(payload, signature);
}

/**
 * Signs the call of an approval request (§15.5) after checking it: its
 * digest is recomputed from its arguments, and the signer must be one of
 * its approvers.
 */
export async function approveRequest(signer: Signer, request: ApprovalRequest | unknown, options: ApprovalOptions = {}): Promise<Approval> {
  const r = parseApprovalRequest(request);
  const me = formatPublicKey(signer.publicKey);
  if (!r.approvers.includes(me)) throw new InvalidArgumentError(`this key (${me}) is not one of the request's approvers`);
  return signApproval(signer, { tip: r.tip, tool: r.tool, operation: r.operation, resource: r.resource, args: r.args, callId: r.callId }, options);
}
