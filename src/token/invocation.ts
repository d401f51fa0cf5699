/**
 * Invocation proofs (docs/spec.md §4): one tool call, signed by the holder
 * key of the token's last block.
 *
 *   invocation = CBOR bstr( payload || 64-byte signature )
 *   text       = "cfi1." base64url(invocation)
 *
 * Batched proofs (docs/spec.md §4.4): one signature over a list of item
 * digests; each call carries its own item payload, the batch and its index.
 *
 *   batched    = CBOR [ item payload bstr, batch payload bstr, signature bstr(64), index uint ]
 *   batch      = CBOR [ SHA-256("capframe-v1-invocation-item\0" || item payload), ... ]  (1..64)
 *   signature  = Ed25519(holder, "capframe-v1-invocation-batch\0" || batch payload)
 *   text       = "cfb1." base64url(batched)
 */
import { InvalidArgumentError, MalformedError, TooLargeError } from '../errors.ts';
import { encodeBase64url } from './base64url.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from './cbor.ts';
import { concat, equalBytes, label, sha256 } from '../crypto/hash.ts';
import { checkText, checkTime } from './block.ts';
import { LIMITS } from './limits.ts';
import { decodeTextForm, splitBlock, TEXT_WHITESPACE_ALLOWANCE, trimAsciiWhitespace, type RawBlock } from './token.ts';

export const INVOCATION_PREFIX = 'cfi1.';
/** Text prefix of a batched invocation proof (§4.4). */
export const BATCHED_INVOCATION_PREFIX = 'cfb1.';

/** Domain-separation labels of batched proofs (§4.4). */
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
  if (b0 >= 0x81 && b0 <= 0x97) { count = b0 & 0x1f; head = 1; }
  else if (b0 === 0x98 && payload.length > 1 && payload[1]! >= 24) { count = payload[1]!; head = 2; }
  else return undefined;
  if (index >= count) return undefined;
  const off = head + index * 34;
  if (off + 34 > payload.length || payload[off] !== 0x58 || payload[off + 1] !== 0x20) return undefined;
  return payload.subarray(off + 2, off + 34);
}

/** Parts made by Invocation.batchParts (checked there); fromBatchItem takes no others. */
const checkedParts = new WeakSet<BatchParts>();

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

export interface InvocationPayload {
  /** blockDigest of the token's last block payload. */
  readonly tip: Uint8Array;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource in normal form. */
  readonly resource: string;
  /** argsDigest(args), 32 bytes. */
  readonly args: Uint8Array;
  readonly callId: string;
  readonly nonce: Uint8Array;
  readonly iat: number;
  readonly exp: number;
}

const K = { tip: 1, tool: 2, operation: 3, resource: 4, args: 5, callId: 6, nonce: 7, iat: 8, exp: 9 } as const;
const KEYS = new Set<number>(Object.values(K));
export function checkName(v: unknown, what: string, max: number = LIMITS.maxStringBytes): string {
  return checkText(v, what, MalformedError, max);
}

/** Bytes of a shortest-form CBOR head for an argument below 2^32. */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function putHead(out: Uint8Array, o: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) { out[o] = m | n; return o + 1; }
  if (n < 0x100) { out[o] = m | 24; out[o + 1] = n; return o + 2; }
  if (n < 0x10000) { out[o] = m | 25; out[o + 1] = n >>> 8; out[o + 2] = n & 0xff; return o + 3; }
  out[o] = m | 26; out[o + 1] = (n >>> 24) & 0xff; out[o + 2] = (n >>> 16) & 0xff; out[o + 3] = (n >>> 8) & 0xff; out[o + 4] = n & 0xff;
  return o + 5;
}

const isTime = (t: number) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff;

/**
 * The deterministic CBOR of an invocation payload (§4.1): a map of the nine
 * fields, keys 1 to 9. Written directly (the holder's hot path); the same
 * bytes as the general encoder, which test/core/invocation-fastpath.test.ts
 * checks, and which takes over for anything unusual.
 */
export function encodeInvocationPayload(p: InvocationPayload): Uint8Array {
  if (p.tip.length !== 16 || p.args.length !== 32 || p.nonce.length !== 16 || !isTime(p.iat) || !isTime(p.exp)) return encodeInvocationPayloadGeneral(p);
  const tool = Buffer.byteLength(p.tool, 'utf8');
  const op = Buffer.byteLength(p.operation, 'utf8');
  const res = Buffer.byteLength(p.resource, 'utf8');
  const cid = Buffer.byteLength(p.callId, 'utf8');
  const size = 1 + 18 + (1 + headSize(tool) + tool) + (1 + headSize(op) + op) + (1 + headSize(res) + res) + 35
    + (1 + headSize(cid) + cid) + 18 + (1 + headSize(p.iat)) + (1 + headSize(p.exp));
  const out = Buffer.alloc(size);
  let o = 0;
  out[o++] = 0xa9;
  out[o++] = 1; o = putHead(out, o, 2, 16); out.set(p.tip, o); o += 16;
  out[o++] = 2; o = putHead(out, o, 3, tool); o += out.write(p.tool, o, tool, 'utf8');
  out[o++] = 3; o = putHead(out, o, 3, op); o += out.write(p.operation, o, op, 'utf8');
  out[o++] = 4; o = putHead(out, o, 3, res); o += out.write(p.resource, o, res, 'utf8');
  out[o++] = 5; o = putHead(out, o, 2, 32); out.set(p.args, o); o += 32;
  out[o++] = 6; o = putHead(out, o, 3, cid); o += out.write(p.callId, o, cid, 'utf8');
  out[o++] = 7; o = putHead(out, o, 2, 16); out.set(p.nonce, o); o += 16;
  out[o++] = 8; o = putHead(out, o, 0, p.iat);
  out[o++] = 9; o = putHead(out, o, 0, p.exp);
  if (o !== size) return encodeInvocationPayloadGeneral(p);
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** encodeInvocationPayload() through the general deterministic encoder. */
export function encodeInvocationPayloadGeneral(p: InvocationPayload): Uint8Array {
  return encode(new Map<number, CborValue>([
    [K.tip, p.tip], [K.tool, p.tool], [K.operation, p.operation], [K.resource, p.resource],
    [K.args, p.args], [K.callId, p.callId], [K.nonce, p.nonce], [K.iat, p.iat], [K.exp, p.exp],
  ]));
}

function bytesOf(m: CborMap, k: number, n: number, what: string): Uint8Array {
  const v = m.get(k);
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`invocation ${what} must be ${n} bytes`);
  return v;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// The reader's position (module state, not closures: this runs on every verified call).
let rb: Uint8Array = new Uint8Array(0);
let ro = 0;

/** A shortest-form head of `major` with an argument below 2^32, or -1. */
function readHead(major: number): number {
  const b = rb;
  const n = b.length;
  if (ro >= n) return -1;
  const ib = b[ro++]!;
  if (ib >> 5 !== major) return -1;
  const ai = ib & 31;
  if (ai < 24) return ai;
  if (ai === 24) { if (ro + 1 > n) return -1; const v = b[ro++]!; return v < 24 ? -1 : v; }
  if (ai === 25) { if (ro + 2 > n) return -1; const v = (b[ro]! << 8) | b[ro + 1]!; ro += 2; return v < 0x100 ? -1 : v; }
  if (ai === 26) {
    if (ro + 4 > n) return -1;
    const v = b[ro]! * 0x1000000 + ((b[ro + 1]! << 16) | (b[ro + 2]! << 8) | b[ro + 3]!);
    ro += 4;
    return v < 0x10000 ? -1 : v;
  }
  return -1;
}

function readKey(k: number): boolean {
  return ro < rb.length && rb[ro++] === k;
}

function readBytes(len: number): Uint8Array | undefined {
  if (readHead(2) !== len || ro + len > rb.length) return undefined;
  ro += len;
  return rb.subarray(ro - len, ro);
}

function readText(): string | undefined {
  const len = readHead(3);
  // Longer texts fail the field checks anyway; the strict decoder then names the error.
  if (len < 0 || len > LIMITS.maxResourceBytes || ro + len > rb.length) return undefined;
  const from = ro;
  ro += len;
  for (let i = from; i < ro; i++) {
    if (rb[i]! >= 0x80) {
      try {
        return UTF8.decode(rb.subarray(from, ro));
      } catch {
        return undefined;
      }
    }
  }
  // ASCII, the usual case: no native call.
  return String.fromCharCode.apply(null, rb.subarray(from, ro) as unknown as number[]);
}

/**
 * The fast path of decodeInvocationPayload: reads the one byte layout a
 * valid payload can have in deterministic CBOR (a map of 9 entries, keys 1
 * to 9 in order, shortest-form heads, definite lengths, the exact byte
 * string sizes, unsigned times below 2^32, strict UTF-8) straight from the
 * bytes. Returns undefined for anything else, and then the general strict
 * decoder decides (and names the error). It accepts nothing that decoder
 * refuses: test/core/invocation-fastpath.test.ts checks the two against
 * each other on valid and mutated payloads.
 */
function readPayloadFast(b: Uint8Array): InvocationPayload | undefined {
  rb = b;
  ro = 0;
  try {
    if (b.length === 0 || b[ro++] !== 0xa9 || !readKey(1)) return undefined;
    const tip = readBytes(16);
    if (!tip || !readKey(2)) return undefined;
    const tool = readText();
    if (tool === undefined || !readKey(3)) return undefined;
    const operation = readText();
    if (operation === undefined || !readKey(4)) return undefined;
    const resource = readText();
    if (resource === undefined || !readKey(5)) return undefined;
    const args = readBytes(32);
    if (!args || !readKey(6)) return undefined;
    const callId = readText();
    if (callId === undefined || !readKey(7)) return undefined;
    const nonce = readBytes(16);
    if (!nonce || !readKey(8)) return undefined;
    const iat = readHead(0);
    if (iat < 0 || !readKey(9)) return undefined;
    const exp = readHead(0);
    if (exp < 0 || ro !== b.length) return undefined;
    return { tip, tool, operation, resource, args, callId, nonce, iat, exp };
  } finally {
    rb = EMPTY;
  }
}
const EMPTY = new Uint8Array(0);

export function decodeInvocationPayload(bytes: Uint8Array): InvocationPayload {
  const fast = bytes instanceof Uint8Array ? readPayloadFast(bytes) : undefined;
  if (fast !== undefined) return checkPayload(fast);
  const m = decodeStrict(bytes);
  if (!(m instanceof Map)) throw new MalformedError('invocation payload must be a CBOR map');
  for (const k of m.keys()) if (typeof k !== 'number' || !KEYS.has(k)) throw new MalformedError(`invocation has unknown field ${JSON.stringify(k)}`);
  if (m.size !== KEYS.size) throw new MalformedError('invocation is missing fields');
  // Texts and times are typed and checked by checkPayload (the same checks as the fast path).
  return checkPayload({
    tip: bytesOf(m, K.tip, 16, 'token tip'),
    tool: m.get(K.tool) as string,
    operation: m.get(K.operation) as string,
    resource: m.get(K.resource) as string,
    args: bytesOf(m, K.args, 32, 'argument digest'),
    callId: m.get(K.callId) as string,
    nonce: bytesOf(m, K.nonce, 16, 'nonce'),
    iat: m.get(K.iat) as number,
    exp: m.get(K.exp) as number,
  });
}

/** The checks on decoded fields that both decoding paths share. */
function checkPayload(p: InvocationPayload): InvocationPayload {
  checkName(p.tool, 'tool name');
  checkName(p.operation, 'operation');
  // Only the type: whether the text is an acceptable resource is §5.2, checked at §9 step 9
  // (ERR_SCOPE_RESOURCE), the same rule and code as on the in-process path.
  if (typeof p.resource !== 'string') throw new MalformedError('invocation resource must be text');
  checkName(p.callId, 'call id');
  checkTime(p.iat, 'iat', MalformedError);
  checkTime(p.exp, 'exp', MalformedError);
  if (p.exp <= p.iat) throw new MalformedError('invocation expires before it was issued');
  if (p.exp - p.iat > LIMITS.maxInvocationWindow) {
    throw new MalformedError(`invocation lifetime ${p.exp - p.iat}s exceeds the ${LIMITS.maxInvocationWindow}s limit`);
  }
  return p;
}

/**
 * A signed invocation proof, exactly as created or received: a single proof
 * (`cfi1.`) or one call of a batched proof (`cfb1.`, §4.4, `batch` set).
 */
export class Invocation {
  /**
   * `payload` is the invocation payload (§4.1) in both forms. `signature`
   * covers "capframe-v1-invocation\0" || payload for a single proof, and
   * "capframe-v1-invocation-batch\0" || batch.payload for a batched one.
   */
  readonly block: RawBlock;
  /** Set on a batched proof only. */
  readonly batch: InvocationBatchRef | undefined;
  #text: string | undefined;
  #bytes: Uint8Array | undefined;
  readonly #encode: (() => Uint8Array) | undefined;

  /** `bytes` may be given as the function that encodes them (built on first use). */
  private constructor(bytes: Uint8Array | (() => Uint8Array), block: RawBlock, batch?: InvocationBatchRef) {
    if (typeof bytes === 'function') this.#encode = bytes;
    else this.#bytes = bytes;
    this.block = block;
    this.batch = batch;
    Object.freeze(this);
  }

  /**
   * Checks size and envelope only; the signature, the batch inclusion and
   * the payload are checked by the verifier. Accepts both forms: `cfi1.` text
   * or a CBOR byte string (single), `cfb1.` text or a CBOR array (batched).
   */
  static parse(input: string | Uint8Array | Invocation): Invocation {
    if (input instanceof Invocation) return input;
    const batched = typeof input === 'string'
      ? trimAsciiWhitespace(input.slice(0, TEXT_WHITESPACE_ALLOWANCE + BATCHED_INVOCATION_PREFIX.length)).startsWith(BATCHED_INVOCATION_PREFIX)
      : input instanceof Uint8Array && input.length > 0 && (input[0]! >> 5) === 4; // CBOR major type 4: array
    const max = batched ? LIMITS.maxBatchedInvocationBytes : LIMITS.maxInvocationBytes;
    const prefix = batched ? BATCHED_INVOCATION_PREFIX : INVOCATION_PREFIX;
    const bytes = typeof input === 'string' ? decodeTextForm(input, prefix, max, 'invocation') : input;
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('invocation must be text or bytes');
    if (bytes.length > max) throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${max}`);
    const own = Uint8Array.from(bytes);
    const v = decodeStrict(own);
    if (batched) return Invocation.#batched(own, v);
    if (!(v instanceof Uint8Array)) throw new MalformedError('invocation must be a CBOR byte string');
    return new Invocation(own, splitBlock(v, 'invocation'));
  }

  static #batched(own: Uint8Array, v: CborValue): Invocation {
    if (!Array.isArray(v) || v.length !== 4) throw new MalformedError('a batched invocation is a CBOR array of 4 items');
    const [item, batch, signature, index] = v;
    if (!(item instanceof Uint8Array) || item.length === 0) throw new MalformedError('batched invocation: the item payload must be a byte string');
    if (!(batch instanceof Uint8Array)) throw new MalformedError('batched invocation: the batch payload must be a byte string');
    if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new MalformedError('batched invocation: the index must be an unsigned integer');
    const digests = digestViews(batch, checkBatchPayload(batch));
    const block: RawBlock = { bytes: Buffer.concat([item, signature]), payload: item, signature };
    return new Invocation(own, block, Object.freeze({ payload: batch, digests, index }));
  }

  /**
   * The single proof made of a signed block (payload || signature). What
   * parse() of its bytes would give, without decoding them again: the
   * envelope is a CBOR byte string, built here by the deterministic encoder.
   * The payload is checked when the proof is verified, as for any received proof.
   */
  static fromBlock(blockBytes: Uint8Array): Invocation {
    if (!(blockBytes instanceof Uint8Array)) throw new MalformedError('invocation block must be bytes');
    const block = Uint8Array.from(blockBytes);
    const bytes = encode(block);
    if (bytes.length > LIMITS.maxInvocationBytes) throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${LIMITS.maxInvocationBytes}`);
    return new Invocation(bytes, splitBlock(block, 'invocation'));
  }

  /**
   * A signed batch received apart from its items (the service's batch
   * endpoint, docs/spec.md §4.5): the batch payload and signature, checked
   * and copied once, shared by the proofs fromBatchItem() builds.
   */
  static batchParts(batchPayload: Uint8Array, signature: Uint8Array): BatchParts {
    if (!(batchPayload instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw new MalformedError('a signed batch is bytes');
    if (signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
    if (batchPayload.length > LIMITS.maxBatchedInvocationBytes) throw new TooLargeError(`batch payload is ${batchPayload.length} bytes; the limit is ${LIMITS.maxBatchedInvocationBytes}`);
    const payload = Uint8Array.from(batchPayload);
    const digests = digestViews(payload, checkBatchPayload(payload));
    const parts: BatchParts = Object.freeze({ payload, signature: Uint8Array.from(signature), digests });
    checkedParts.add(parts);
    return parts;
  }

  /**
   * The batched proof (§4.4) of item `index` of a signed batch received as
   * parts: exactly the proof [item, batch payload, signature, index], checked
   * like a received one (the verifier checks inclusion and signature).
   */
  static fromBatchItem(itemPayload: Uint8Array, parts: BatchParts, index: number): Invocation {
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
    const block: RawBlock = { bytes: Buffer.concat([item, parts.signature]), payload: item, signature: parts.signature };
    return new Invocation(() => encode([item, parts.payload, parts.signature, index]), block, Object.freeze({ payload: parts.payload, digests: parts.digests, index }));
  }


  /**
   * The batched proofs of every item of a signed batch, in order (the
   * signer's path: the batch payload is decoded once, not once per item).
   * Checks that the batch lists exactly these items, in this order.
   */
  static fromSignedBatch(itemPayloads: readonly Uint8Array[], batchPayload: Uint8Array, signature: Uint8Array): Invocation[] {
    const batch = Uint8Array.from(batchPayload);
    const count = checkBatchPayload(batch);
    if (count !== itemPayloads.length) throw new MalformedError('batched invocation: the batch does not list these items');
    if (signature.length !== 64) throw new MalformedError('batched invocation: the signature must be 64 bytes');
    const digests = digestViews(batch, count);
    const sig = Uint8Array.from(signature);
    const ref = (index: number) => Object.freeze({ payload: batch, digests, index });
    return itemPayloads.map((p, index) => {
      const item = Uint8Array.from(p);
      if (!equalBytes(invocationItemDigest(item), digests[index]!)) throw new MalformedError('batched invocation: the batch does not list these items');
      const bytes = encode([item, batch, sig, index]);
      if (bytes.length > LIMITS.maxBatchedInvocationBytes) {
        throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${LIMITS.maxBatchedInvocationBytes}`);
      }
      return new Invocation(bytes, { bytes: Buffer.concat([item, sig]), payload: item, signature: sig }, ref(index));
    });
  }

  /** The proof's binary form (a CBOR byte string, or the batched proof's CBOR array). */
  get bytes(): Uint8Array {
    return (this.#bytes ??= this.#encode!());
  }

  toString(): string {
    this.#text ??= (this.batch ? BATCHED_INVOCATION_PREFIX : INVOCATION_PREFIX) + encodeBase64url(this.bytes);
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

