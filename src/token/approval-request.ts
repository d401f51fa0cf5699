/**
 * The approval request (docs/spec.md §15.5): the JSON a runtime shows a
 * person when a call needs approval, and what `capframe approve` signs.
 * It holds the call's arguments so that the person sees what they approve;
 * the signer recomputes their digest rather than trusting `argsDigest`.
 */
import { MalformedError } from '../errors.ts';
import { argsDigestHex } from './args.ts';
import { checkText } from './block.ts';
import { normalizeResource } from './resource.ts';
import { parsePublicKey } from '../crypto/keys.ts';
import { MAX_APPROVERS } from './approval.ts';

export const APPROVAL_REQUEST_TYPE = 'capframe-approval-request';

export interface ApprovalRequest {
  readonly type: typeof APPROVAL_REQUEST_TYPE;
  readonly version: 1;
  /** Hex tip (16 bytes) of the token the call is made with. */
  readonly tip: string;
  readonly tool: string;
  readonly operation: string;
  /** Normal form. */
  readonly resource: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** Hex argument digest (32 bytes) of `args`. */
  readonly argsDigest: string;
  readonly callId: string;
  readonly got: number;
  readonly need: number;
  /** cfk1. keys of the gate's approvers. */
  readonly approvers: readonly string[];
  readonly subject?: string;
  /** When the token's authority ends (unix seconds), if known. */
  readonly expiresAt?: number;
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n * 2}}$`);
const MEMBERS = new Set([
  'type',
  'version',
  'tip',
  'tool',
  'operation',
  'resource',
  'args',
  'argsDigest',
  'callId',
  'got',
  'need',
  'approvers',
  'subject',
  'expiresAt',
]);

/**
 * Checks an approval request read from JSON: every member typed, the
 * resource in normal form, and `argsDigest` equal to the digest of `args`.
 * Throws MalformedError.
 */
export function parseApprovalRequest(v: unknown): ApprovalRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedError('an approval request is a JSON object');
  const r = v as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!MEMBERS.has(k)) throw new MalformedError(`approval request has unknown member ${JSON.stringify(k)}`);
  if (r.type !== APPROVAL_REQUEST_TYPE) throw new MalformedError(`approval request type must be "${APPROVAL_REQUEST_TYPE}"`);
  if (r.version !== 1) throw new MalformedError('approval request version must be 1');
  if (typeof r.tip !== 'string' || !HEX(16).test(r.tip)) throw new MalformedError('approval request tip must be 32 lowercase hex digits');
  checkText(r.tool, 'tool', MalformedError);
  checkText(r.operation, 'operation', MalformedError);
  checkText(r.callId, 'callId', MalformedError);
  if (typeof r.resource !== 'string') throw new MalformedError('approval request resource must be text');
  let normal: string;
  try {
    normal = normalizeResource(r.resource);
  } catch (e) {
    throw new MalformedError(`approval request resource: ${(e as Error).message}`);
  }
  if (normal !== r.resource) throw new MalformedError('approval request resource is not in normal form');
  if (typeof r.args !== 'object' || r.args === null || Array.isArray(r.args)) throw new MalformedError('approval request args must be an object');
  if (typeof r.argsDigest !== 'string' || !HEX(32).test(r.argsDigest)) throw new MalformedError('approval request argsDigest must be 64 lowercase hex digits');
  let digest: string;
  try {
    digest = argsDigestHex(r.args);
  } catch (e) {
    throw new MalformedError(`approval request args: ${(e as Error).message}`);
  }
  if (digest !== r.argsDigest)
    throw new MalformedError('approval request argsDigest is not the digest of its args: refusing to sign arguments other than those shown');
  for (const k of ['got', 'need'] as const) {
    const n = r[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_APPROVERS)
      throw new MalformedError(`approval request ${k} must be 0 to ${MAX_APPROVERS}`);
  }
  if (!Array.isArray(r.approvers) || r.approvers.length === 0 || r.approvers.length > MAX_APPROVERS)
    throw new MalformedError(`approval request approvers must be 1 to ${MAX_APPROVERS} cfk1. keys`);
  for (const a of r.approvers) {
    if (typeof a !== 'string') throw new MalformedError('approval request approvers must be cfk1. keys');
    parsePublicKey(a);
  }
  if (r.subject !== undefined) checkText(r.subject, 'subject', MalformedError);
  if (r.expiresAt !== undefined && (typeof r.expiresAt !== 'number' || !Number.isSafeInteger(r.expiresAt) || r.expiresAt < 0))
    throw new MalformedError('approval request expiresAt must be unix seconds');
  return r as unknown as ApprovalRequest;
}
