/**
 * Approvals (docs/spec.md §15): an approver key's signature over one call
 * (token tip, tool, operation, resource, argument digest, call id) with a
 * short expiry, and the approval option of a grant (grant option key 5).
 *
 *   approval = CBOR bstr( payload || 64-byte signature )
 *   text     = "cfa1." base64url(approval)
 */
import { isWeakPublicKey } from '../crypto/weak.ts';
import { concat, label } from '../crypto/hash.ts';
import { parsePublicKey, PUBLIC_KEY_PREFIX } from '../crypto/keys.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import { InvalidArgumentError, MalformedError, TooLargeError } from '../errors.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from './cbor.ts';
import { checkText, checkTime } from './block.ts';
import { normalizeResource } from './resource.ts';
import { decodeTextForm, splitBlock, type RawBlock } from './token.ts';

export const APPROVAL_PREFIX = 'cfa1.';
/** Signature label of approvals (spec §3.0). */
export const APPROVAL_LABEL = label('capframe-v1-approval');
/** Largest approval, binary form (spec §7). */
export const MAX_APPROVAL_BYTES = 4096;
/** Longest approval lifetime (exp - iat), seconds. */
export const MAX_APPROVAL_LIFETIME = 3600;
/** Lifetime written by default, seconds. */
export const DEFAULT_APPROVAL_LIFETIME = 600;
/** Most approvals one call may carry (spec §15.3). */
export const MAX_APPROVALS_PER_CALL = 16;
/** Most approver keys in one grant's approval option (spec §15.1). */
export const MAX_APPROVERS = 16;

export interface ApprovalPayload {
  readonly tip: Uint8Array;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource in normal form. */
  readonly resource: string;
  /** argsDigest(args), 32 bytes. */
  readonly args: Uint8Array;
  readonly callId: string;
  /** The approver's public key (32 bytes). */
  readonly approver: Uint8Array;
  readonly iat: number;
  readonly exp: number;
}

/** A grant's approval option: `threshold` distinct keys of `approvers` must approve (sorted, unique). */
export interface ApprovalGate {
  readonly threshold: number;
  readonly approvers: readonly Uint8Array[];
}

/** The API form of an approval option: keys as cfk1. text or bytes. */
export interface ApprovalGateSpec {
  readonly approvers: readonly (string | Uint8Array)[];
  readonly threshold: number;
}

const K = { tip: 1, tool: 2, operation: 3, resource: 4, args: 5, callId: 6, approver: 7, iat: 8, exp: 9 } as const;
const KEYS = new Set<number>(Object.values(K));

type Err = typeof MalformedError | typeof InvalidArgumentError;

const compareBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

function checkKey(v: unknown, E: Err, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== 32) throw new E(`${what} must be a 32-byte Ed25519 public key`);
  if (isWeakPublicKey(v)) throw new E(`${what} is a small-order or non-canonical Ed25519 point`);
  return v;
}

function checkThreshold(t: unknown, n: number, E: Err): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1 || t > n)
    throw new E(`approval threshold must be an integer from 1 to the number of approvers (${n})`);
  return t;
}

/** Validates an approval option given through the API; keys sorted and unique. */
export function validateApprovalGate(v: unknown, E: Err = InvalidArgumentError): ApprovalGate {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new E('approval is an object { approvers, threshold }');
  const { approvers, threshold, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new E(`approval has unknown member ${JSON.stringify(Object.keys(rest)[0])}`);
  if (!Array.isArray(approvers) || approvers.length === 0 || approvers.length > MAX_APPROVERS)
    throw new E(`approval.approvers must be a list of 1 to ${MAX_APPROVERS} public keys`);
  const keys = approvers.map((a: unknown, i) => {
    let k: unknown = a;
    if (typeof a === 'string') {
      if (!a.startsWith(PUBLIC_KEY_PREFIX)) throw new E(`approval.approvers[${i}] must be a cfk1. public key (names are resolved by the config)`);
      try {
        k = parsePublicKey(a);
      } catch (e) {
        throw new E(`approval.approvers[${i}]: ${(e as Error).message}`);
      }
    }
    return Uint8Array.from(checkKey(k, E, `approval.approvers[${i}]`));
  });
  keys.sort(compareBytes);
  for (let i = 1; i < keys.length; i++) if (compareBytes(keys[i - 1]!, keys[i]!) === 0) throw new E('approval.approvers lists a key twice');
  return Object.freeze({ threshold: checkThreshold(threshold, keys.length, E), approvers: Object.freeze(keys) });
}

/** Grant option 5 on the wire: [threshold, [approver keys, sorted]]. */
export function encodeApprovalGate(g: ApprovalGate): CborValue {
  return [g.threshold, g.approvers.map((k) => k)];
}

/** Decodes grant option 5 (spec §15.1). Throws MalformedError. */
export function decodeApprovalGate(v: CborValue): ApprovalGate {
  if (!Array.isArray(v) || v.length !== 2) throw new MalformedError('grant option 5 (approval) must be [threshold, approvers]');
  const [t, list] = v;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_APPROVERS)
    throw new MalformedError(`approval approvers must be an array of 1 to ${MAX_APPROVERS} keys`);
  const keys = list.map((k, i) => checkKey(k, MalformedError, `approval approver ${i}`));
  for (let i = 1; i < keys.length; i++) if (compareBytes(keys[i - 1]!, keys[i]!) >= 0) throw new MalformedError('approval approvers must be sorted and unique');
  return Object.freeze({ threshold: checkThreshold(t, keys.length, MalformedError), approvers: Object.freeze(keys) });
}

/** Is `child` a gate at least as strict as `parent`: approvers a subset, threshold at least as high (spec §15.1)? */
export function gateCovered(parent: ApprovalGate, child: ApprovalGate | undefined): boolean {
  if (!child) return false;
  if (child.threshold < parent.threshold) return false;
  return child.approvers.every((k) => parent.approvers.some((p) => compareBytes(p, k) === 0));
}

/** Byte identity of a gate (for grant identity). */
export function gateIdentity(g: ApprovalGate | undefined): string {
  return g ? g.threshold + ':' + g.approvers.map((k) => Buffer.from(k).toString('hex')).join(',') : '';
}

export function encodeApprovalPayload(p: ApprovalPayload): Uint8Array {
  const m: CborMap = new Map<number, CborValue>([
    [K.tip, p.tip],
    [K.tool, p.tool],
    [K.operation, p.operation],
    [K.resource, p.resource],
    [K.args, p.args],
    [K.callId, p.callId],
    [K.approver, p.approver],
    [K.iat, p.iat],
    [K.exp, p.exp],
  ]);
  return encode(m);
}

function bytesOf(v: unknown, n: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`approval ${what} must be ${n} bytes`);
  return v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The nine fields of a payload laid out exactly as the deterministic
 * encoding writes them (keys 1 to 9 in order, shortest heads, valid UTF-8),
 * read without the general decoder; undefined for anything else, which the
 * general path then decodes or refuses (so both accept the same bytes:
 * test/core/approval-fastpath.test.ts). Approvals are checked M at a time
 * per call, and the general strict decoder (decode, then re-encode and
 * compare) costs a good part of a signature check.
 */
export function readApprovalFields(b: Uint8Array): Record<number, unknown> | undefined {
  if (b[0] !== 0xa9) return undefined;
  let o = 1;
  const len = (major: number): number => {
    const h = b[o++];
    if (h === undefined || h >> 5 !== major) return -1;
    const ai = h & 31;
    if (ai < 24) return ai;
    if (ai === 24) {
      const n = b[o++];
      return n !== undefined && n >= 24 ? n : -1;
    }
    if (ai === 25) {
      if (o + 2 > b.length) return -1;
      const n = (b[o]! << 8) | b[o + 1]!;
      o += 2;
      return n >= 256 ? n : -1;
    }
    if (ai === 26 && major === 0) {
      if (o + 4 > b.length) return -1;
      const n = b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
      o += 4;
      return n >= 0x10000 ? n : -1;
    }
    return -1;
  };
  const bytesOfLen = (n: number): Uint8Array | undefined => {
    if (len(2) !== n || o + n > b.length) return undefined;
    o += n;
    return b.subarray(o - n, o);
  };
  const text = (): string | undefined => {
    const n = len(3);
    if (n < 0 || o + n > b.length) return undefined;
    o += n;
    // ASCII (tool names, operations, resources in normal form, most call ids): no decoder call.
    let ascii = '';
    for (let i = o - n; i < o; i++) {
      const c = b[i]!;
      if (c >= 0x80) {
        try {
          return utf8.decode(b.subarray(o - n, o));
        } catch {
          return undefined;
        }
      }
      ascii += String.fromCharCode(c);
    }
    return ascii;
  };
  const out: Record<number, unknown> = {};
  for (let k = 1; k <= 9; k++) {
    if (b[o++] !== k) return undefined;
    let v: unknown;
    if (k === 1) v = bytesOfLen(16);
    else if (k === 5 || k === 7) v = bytesOfLen(32);
    else if (k === 8 || k === 9) {
      const n = len(0);
      v = n < 0 ? undefined : n;
    } else v = text();
    if (v === undefined) return undefined;
    out[k] = v;
  }
  return o === b.length ? out : undefined;
}

/** Decodes and checks an approval payload (strict deterministic CBOR). Throws MalformedError. */
export function decodeApprovalPayload(bytes: Uint8Array): ApprovalPayload {
  const fast = readApprovalFields(bytes);
  let get: (k: number) => unknown;
  if (fast) get = (k) => fast[k];
  else {
    const m = decodeStrict(bytes);
    if (!(m instanceof Map)) throw new MalformedError('approval payload must be a CBOR map');
    for (const k of m.keys()) if (typeof k !== 'number' || !KEYS.has(k)) throw new MalformedError(`approval has unknown field ${JSON.stringify(k)}`);
    if (m.size !== KEYS.size) throw new MalformedError('approval is missing fields');
    get = (k) => m.get(k);
  }
  const resource = get(K.resource);
  if (typeof resource !== 'string') throw new MalformedError('approval resource must be text');
  let normal: string;
  try {
    normal = normalizeResource(resource);
  } catch {
    throw new MalformedError('approval resource is not a concrete resource');
  }
  if (normal !== resource) throw new MalformedError('approval resource is not in normal form');
  const p: ApprovalPayload = {
    tip: bytesOf(get(K.tip), 16, 'token tip'),
    tool: checkText(get(K.tool), 'approval tool name', MalformedError),
    operation: checkText(get(K.operation), 'approval operation', MalformedError),
    resource,
    args: bytesOf(get(K.args), 32, 'argument digest'),
    callId: checkText(get(K.callId), 'approval call id', MalformedError),
    approver: checkKey(get(K.approver), MalformedError, 'approval approver'),
    iat: checkTime(get(K.iat), 'approval iat', MalformedError),
    exp: checkTime(get(K.exp), 'approval exp', MalformedError),
  };
  if (p.exp <= p.iat) throw new MalformedError('approval expires before it was issued');
  if (p.exp - p.iat > MAX_APPROVAL_LIFETIME) throw new MalformedError(`approval lifetime ${p.exp - p.iat}s exceeds the ${MAX_APPROVAL_LIFETIME}s limit`);
  return p;
}

/** The bytes an approval's signature covers. */
export function approvalSignedMessage(payload: Uint8Array): Uint8Array {
  return concat(APPROVAL_LABEL, payload);
}

/**
 * The content of `b` when it is exactly one byte string with a shortest-form
 * length of 24 to 65535 bytes (every valid approval), without a general
 * decode; anything else is left to the strict decoder, which says why.
 */
function byteStringContent(b: Uint8Array): Uint8Array | undefined {
  if (b[0] === 0x58 && b.length >= 2 && b[1]! >= 24 && b.length === 2 + b[1]!) return b.subarray(2);
  if (b[0] === 0x59 && b.length >= 3) {
    const n = (b[1]! << 8) | b[2]!;
    if (n >= 256 && b.length === 3 + n) return b.subarray(3);
  }
  return undefined;
}

/** A signed approval as received or created: envelope checked, payload decoded; signature NOT checked. */
export class Approval {
  readonly bytes: Uint8Array;
  readonly block: RawBlock;
  readonly payload: ApprovalPayload;

  private constructor(bytes: Uint8Array, block: RawBlock, payload: ApprovalPayload) {
    this.bytes = bytes;
    this.block = block;
    this.payload = payload;
    Object.freeze(this);
  }

  /** From payload and signature (the signer's side). */
  static fromParts(payload: Uint8Array, signature: Uint8Array): Approval {
    if (signature.length !== 64) throw new InvalidArgumentError('an approval signature is 64 bytes');
    return Approval.parse(encode(concat(payload, signature)));
  }

  /** Parses `cfa1.` text or binary bytes (spec §15.2). Throws ERR_TOO_LARGE / ERR_MALFORMED. */
  static parse(input: Approval | string | Uint8Array): Approval {
    if (input instanceof Approval) return input;
    let bytes: Uint8Array;
    if (typeof input === 'string') bytes = decodeTextForm(input, APPROVAL_PREFIX, MAX_APPROVAL_BYTES, 'approval');
    else if (input instanceof Uint8Array) bytes = input;
    else throw new MalformedError('an approval is its cfa1. text or its bytes');
    if (bytes.length > MAX_APPROVAL_BYTES) throw new TooLargeError(`approval is larger than ${MAX_APPROVAL_BYTES} bytes`);
    const own = typeof input === 'string' ? bytes : Uint8Array.from(bytes);
    const v = byteStringContent(own) ?? decodeStrict(own);
    if (!(v instanceof Uint8Array)) throw new MalformedError('an approval is one CBOR byte string');
    const block = splitBlock(v, 'approval');
    return new Approval(own, block, decodeApprovalPayload(block.payload));
  }

  toString(): string {
    return APPROVAL_PREFIX + encodeBase64url(this.bytes);
  }
}
