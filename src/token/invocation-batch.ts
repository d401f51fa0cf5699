/**
 * Batched invocation proofs (docs/spec.md §4.4): one signature over a list
 * of item digests; each call carries its own item payload, the batch and its
 * index. A signed batch may also travel apart from its items (§4.5).
 *
 *   batched    = CBOR [ item payload bstr, batch payload bstr, signature bstr(64), index uint ]
 *   batch      = CBOR [ SHA-256("capframe-v1-invocation-item\0" || item payload), ... ]  (1..64)
 *   signature  = Ed25519(holder, "capframe-v1-invocation-batch\0" || batch payload)
 *   text       = "cfb1." base64url(batched)
 */
import { InvalidArgumentError, MalformedError, TooLargeError } from '../errors.ts';
import { concat, equalBytes, label, sha256 } from '../crypto/hash.ts';
import { decodeStrict, encode, headSize, type CborValue } from './cbor.ts';
import { LIMITS } from './limits.ts';
import type { RawBlock } from './token.ts';

/** Text prefix of a batched invocation proof. */
export const BATCHED_INVOCATION_PREFIX = 'cfb1.';

/** Domain-separation labels of batched proofs. */
export const BATCH_LABELS = Object.freeze({
  item: label('capframe-v1-invocation-item'),
  batch: label('capframe-v1-invocation-batch'),
});

/** SHA-256("capframe-v1-invocation-item\0" || item payload): one element of a batch payload. */
export function invocationItemDigest(itemPayload: Uint8Array): Uint8Array {
  return sha256(BATCH_LABELS.item, itemPayload);
}

/** The bytes a batch signature covers: "capframe-v1-invocation-batch\0" || batch payload. */
export function batchSignedMessage(batchPayload: Uint8Array): Uint8Array {
  return concat(BATCH_LABELS.batch, batchPayload);
}

/** Deterministic CBOR array of the item digests (1..LIMITS.maxInvocationBatch of them). */
export function encodeBatchPayload(digests: readonly Uint8Array[]): Uint8Array {
  if (digests.length < 1 || digests.length > LIMITS.maxInvocationBatch) {
    throw new MalformedError(`an invocation batch holds 1 to ${LIMITS.maxInvocationBatch} items`);
  }
  for (const d of digests) if (!(d instanceof Uint8Array) || d.length !== 32) throw new MalformedError('a batch item digest is 32 bytes');
  return encode(digests.map((d) => d as CborValue));
}

/**
 * The last batch payload validated, and its item count: the items of one
 * batch usually arrive one after the other (one /v1/verify/batch request), so
 * each batch payload is decoded once rather than once per item.
 */
let lastBatch: { bytes: Buffer; count: number } | undefined;

/** Validates a batch payload (deterministic CBOR array of 1..64 32-byte strings); returns its item count. */
function checkBatchPayload(bytes: Uint8Array): number {
  const last = lastBatch;
  if (last !== undefined && last.bytes.equals(bytes)) return last.count;
  const v = decodeStrict(bytes);
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.maxInvocationBatch) {
    throw new MalformedError(`a batch payload is a CBOR array of 1 to ${LIMITS.maxInvocationBatch} digests`);
  }
  for (const d of v) if (!(d instanceof Uint8Array) || d.length !== 32) throw new MalformedError('a batch item digest must be 32 bytes');
  lastBatch = { bytes: Buffer.from(bytes), count: v.length };
  return v.length;
}

/**
 * The item digests of a validated batch payload, as views into those very
 * bytes (so the inclusion check and the signature check read the same bytes).
 * Deterministic layout: array head (1 byte below 24 items, else 2), then per
 * item 0x58 0x20 and the 32 digest bytes.
 */
function digestViews(batch: Uint8Array, count: number): readonly Uint8Array[] {
  const head = count < 24 ? 1 : 2;
  const out: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const off = head + i * 34 + 2;
    out[i] = batch.subarray(off, off + 32);
  }
  return Object.freeze(out);
}

/**
 * The digest at `index` of a batch payload, read from the payload bytes
 * themselves (the bytes the batch signature covers), or undefined when the
 * payload has no such item. The verifier uses this, never a digest list
 * carried beside the payload.
 */
export function batchDigestAt(payload: Uint8Array, index: number): Uint8Array | undefined {
  if (!(payload instanceof Uint8Array) || payload.length < 1 || !Number.isSafeInteger(index) || index < 0) return undefined;
  const b0 = payload[0]!;
  let count: number;
  let head: number;
  if (b0 >= 0x81 && b0 <= 0x97) {
    count = b0 & 0x1f;
    head = 1;
  } else if (b0 === 0x98 && payload.length > 1 && payload[1]! >= 24) {
    count = payload[1]!;
    head = 2;
  } else return undefined;
  if (index >= count) return undefined;
  const off = head + index * 34;
  if (off + 34 > payload.length || payload[off] !== 0x58 || payload[off + 1] !== 0x20) return undefined;
  return payload.subarray(off + 2, off + 34);
}

/** The batch a batched proof belongs to (absent on single proofs). */
export interface InvocationBatchRef {
  /** The batch payload exactly as received (what the signature covers, after its label). */
  readonly payload: Uint8Array;
  /** Its item digests, in order (views into `payload`). */
  readonly digests: readonly Uint8Array[];
  /** This proof's position in the batch (not yet checked against digests.length: the verifier does). */
  readonly index: number;
}

/** A signed batch apart from its items (Invocation.batchParts). */
export interface BatchParts {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly digests: readonly Uint8Array[];
}

/** The parts of one batched proof, for the Invocation that holds them. */
export interface BatchedProof {
  /** The proof's bytes, or the function that encodes them on first use. */
  readonly bytes: Uint8Array | (() => Uint8Array);
  readonly block: RawBlock;
  readonly batch: InvocationBatchRef;
}

/** Parts made by batchParts() (checked there); batchItem() takes no others. */
const checkedParts = new WeakSet<BatchParts>();

/**
 * A received batched proof: `own` its bytes (a copy), `v` their strict
 * decoding. Checks the envelope only; inclusion and signature are the
 * verifier's.
 */
export function decodeBatchedProof(own: Uint8Array, v: CborValue): BatchedProof {
  if (!Array.isArray(v) || v.length !== 4) throw new MalformedError('a batched invocation is a CBOR array of 4 items');
  const [item, batch, signature, index] = v;
  if (!(item instanceof Uint8Array) || item.length === 0) throw new MalformedError('batched invocation: the item payload must be a byte string');
  if (!(batch instanceof Uint8Array)) throw new MalformedError('batched invocation: the batch payload must be a byte string');
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0)
    throw new MalformedError('batched invocation: the index must be an unsigned integer');
  const digests = digestViews(batch, checkBatchPayload(batch));
  const block: RawBlock = { bytes: Buffer.concat([item, signature]), payload: item, signature };
  return { bytes: own, block, batch: Object.freeze({ payload: batch, digests, index }) };
}

/** See Invocation.batchParts. */
export function batchParts(batchPayload: Uint8Array, signature: Uint8Array): BatchParts {
  if (!(batchPayload instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw new MalformedError('a signed batch is bytes');
  if (signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
  if (batchPayload.length > LIMITS.maxBatchedInvocationBytes)
    throw new TooLargeError(`batch payload is ${batchPayload.length} bytes; the limit is ${LIMITS.maxBatchedInvocationBytes}`);
  const payload = Uint8Array.from(batchPayload);
  const digests = digestViews(payload, checkBatchPayload(payload));
  const parts: BatchParts = Object.freeze({ payload, signature: Uint8Array.from(signature), digests });
  checkedParts.add(parts);
  return parts;
}

/** See Invocation.fromBatchItem. */
export function batchItem(itemPayload: Uint8Array, parts: BatchParts, index: number): BatchedProof {
  if (!checkedParts.has(parts)) throw new InvalidArgumentError('fromBatchItem() takes the parts made by Invocation.batchParts()');
  if (!(itemPayload instanceof Uint8Array) || itemPayload.length === 0) throw new MalformedError('batched invocation: the item payload must be bytes');
  if (!Number.isSafeInteger(index) || index < 0) throw new MalformedError('batched invocation: the index must be an unsigned integer');
  const item = Uint8Array.from(itemPayload);
  // The size of [item, payload, signature, index] in deterministic CBOR, without encoding it
  // (the bytes are built only if asked for: a verifier does not need them).
  const size = 1 + headSize(item.length) + item.length + headSize(parts.payload.length) + parts.payload.length + 2 + 64 + headSize(index);
  if (size > LIMITS.maxBatchedInvocationBytes) {
    throw new TooLargeError(`invocation is ${size} bytes; the limit is ${LIMITS.maxBatchedInvocationBytes}`);
  }
  return {
    bytes: () => encode([item, parts.payload, parts.signature, index]),
    block: { bytes: Buffer.concat([item, parts.signature]), payload: item, signature: parts.signature },
    batch: Object.freeze({ payload: parts.payload, digests: parts.digests, index }),
  };
}

/** See Invocation.fromSignedBatch. */
export function signedBatchItems(itemPayloads: readonly Uint8Array[], batchPayload: Uint8Array, signature: Uint8Array): BatchedProof[] {
  const batch = Uint8Array.from(batchPayload);
  const count = checkBatchPayload(batch);
  if (count !== itemPayloads.length) throw new MalformedError('batched invocation: the batch does not list these items');
  if (signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
  const digests = digestViews(batch, count);
  const sig = Uint8Array.from(signature);
  return itemPayloads.map((p, index) => {
    const item = Uint8Array.from(p);
    if (!equalBytes(invocationItemDigest(item), digests[index]!)) throw new MalformedError('batched invocation: the batch does not list these items');
    const bytes = encode([item, batch, sig, index]);
    if (bytes.length > LIMITS.maxBatchedInvocationBytes) {
      throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${LIMITS.maxBatchedInvocationBytes}`);
    }
    return { bytes, block: { bytes: Buffer.concat([item, sig]), payload: item, signature: sig }, batch: Object.freeze({ payload: batch, digests, index }) };
  });
}
