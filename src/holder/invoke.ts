/**
 * Invocation proofs (docs/spec.md §4): the holder signs one tool call, for a
 * verifier in another process.
 */
import { randomFillSync } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { concat, equalBytes } from '../crypto/hash.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { InvalidArgumentError } from '../errors.ts';
import { argsDigest } from '../token/args.ts';
import { decodeRootPayload, decodeDelegationPayload } from '../token/block.ts';
import { Invocation } from '../token/invocation.ts';
import { batchSignedMessage, encodeBatchPayload, invocationItemDigest } from '../token/invocation-batch.ts';
import { checkName, encodeInvocationPayload } from '../token/invocation-payload.ts';
import { DEFAULTS, LIMITS } from '../token/limits.ts';
import { normalizeResource } from '../token/resource.ts';
import { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import { signedMessage } from '../token/chain.ts';
import { newCallId } from '../token/call-id.ts';

export interface InvocationOptions {
  /** Holder key of the token's last block. */
  key: PrivateKey;
  tool: string;
  /** The one permission this call uses, e.g. `read`. */
  operation: string;
  /** The concrete resource, e.g. `database://users/table`. */
  resource: string;
  /** The tool call's arguments (JSON data). */
  args: Readonly<Record<string, unknown>>;
  /** Unique id of the call; random when absent. */
  callId?: string;
  /** Lifetime of the proof. Default 30 s, at most 300 s. */
  ttl?: string | number;
  clock?: Clock;
  backend?: Ed25519Backend;
  /**
   * @internal For deterministic test vectors (scripts/gen-vectors.ts) ONLY;
   * never set in production. Fixes the 16-byte nonce, which is otherwise random.
   */
  nonce?: Uint8Array;
}

/**
 * Holder key and tip digest of a token's last block, remembered per Token
 * object. The entry keeps a copy of the payload it was computed from and is
 * used only while the payload still has exactly those bytes.
 */
const tipInfo = new WeakMap<Token, { payload: Uint8Array; holder: Uint8Array; tip: Uint8Array }>();

function tipOf(token: Token): { holder: Uint8Array; tip: Uint8Array } {
  const last = token.blocks[token.blocks.length - 1]!;
  const hit = tipInfo.get(token);
  if (hit && equalBytes(hit.payload, last.payload)) return hit;
  const root = decodeRootPayload(token.blocks[0]!.payload);
  // A delegation block is read under its chain's format version (the root's).
  const holder = token.blocks.length === 1 ? root.holder : decodeDelegationPayload(last.payload, root.version ?? 1).holder;
  const entry = { payload: new Uint8Array(last.payload), holder, tip: token.tip() };
  tipInfo.set(token, entry);
  return entry;
}

/** 16 fresh random bytes. Drawn from the CSPRNG in batches (one native call per 256 nonces); each byte is used once. */
const noncePool = Buffer.alloc(4096);
let nonceOffset = noncePool.length;
function freshNonce(): Uint8Array {
  if (nonceOffset + 16 > noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  const out = new Uint8Array(16);
  out.set(noncePool.subarray(nonceOffset, nonceOffset + 16));
  noncePool.fill(0, nonceOffset, nonceOffset + 16);
  nonceOffset += 16;
  return out;
}

/** One call of a batch (createInvocationBatch): the InvocationOptions without the key, clock and backend. */
export type BatchCall = Omit<InvocationOptions, 'key' | 'clock' | 'backend'>;

export interface InvocationBatchOptions {
  clock?: Clock;
  backend?: Ed25519Backend;
}

/** Checks that `key` is the token's holder key; returns the token's tip digest. */
export function checkKey(key: PrivateKey | undefined, token: Token, fn: string): Uint8Array {
  if (!key || key.kind !== 'private') throw new InvalidArgumentError(`${fn} needs the holder private key`);
  const info = tipOf(token);
  if (!equalBytes(key.publicKey, info.holder)) {
    throw new InvalidArgumentError("this key is not the token's holder key; only the holder can invoke");
  }
  return info.tip;
}

/**
 * The invocation payload (§4.1) of one call, checked and encoded, unsigned,
 * with the normalised resource and argument digest it holds.
 * Shared by single proofs and batches; `tip` is what checkKey() returned.
 */
function invocationFields(tip: Uint8Array, o: BatchCall, now: number): PreparedInvocation {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('an invocation needs the call');
  if (typeof o.args !== 'object' || o.args === null || Array.isArray(o.args)) throw new InvalidArgumentError('args must be an object');
  const ttl = o.ttl === undefined ? DEFAULTS.invocationWindow : parseDuration(o.ttl);
  if (ttl > LIMITS.maxInvocationWindow) throw new InvalidArgumentError(`an invocation lives at most ${LIMITS.maxInvocationWindow} s`);
  if (o.nonce !== undefined && !(o.nonce instanceof Uint8Array && o.nonce.length === 16)) {
    throw new InvalidArgumentError('nonce must be 16 bytes');
  }
  const resource = normalizeResource(o.resource);
  const args = argsDigest(o.args);
  const payload = encodeInvocationPayload({
    tip,
    tool: checkName(o.tool, 'tool name'),
    operation: checkName(o.operation, 'operation'),
    resource,
    args,
    callId: checkName(o.callId ?? newCallId(), 'call id'),
    nonce: o.nonce !== undefined ? Uint8Array.from(o.nonce) : freshNonce(),
    iat: now,
    exp: now + ttl,
  });
  return { payload, resource, argsDigest: args };
}

/** An encoded, unsigned invocation payload with two of its fields (prepareInvocation). */
export interface PreparedInvocation {
  readonly payload: Uint8Array;
  /** The resource in normal form, as signed. */
  readonly resource: string;
  /** argsDigest(args), as signed. */
  readonly argsDigest: Uint8Array;
}

/**
 * @internal The unsigned payload of one call, for signers that sign later
 * (the remote verifier batches calls queued together). Throws like createInvocation.
 */
export function prepareInvocation(token: Token, key: PrivateKey, o: BatchCall, clock: Clock = systemClock): PreparedInvocation {
  return invocationFields(checkKey(key, token, 'prepareInvocation'), o, clock());
}

/** @internal Signs one prepared payload: a single proof (§4.1). */
export function signInvocation(key: PrivateKey, payload: Uint8Array, backend: Ed25519Backend = defaultBackend()): Invocation {
  return Invocation.fromBlock(concat(payload, backend.sign(key.seed, signedMessage('invocation', payload))));
}

/** One Ed25519 signature over the batch of item digests; one batched proof per payload. */
function signBatch(key: PrivateKey, payloads: readonly Uint8Array[], backend: Ed25519Backend): Invocation[] {
  const { batch, signature } = signBatchParts(key, payloads, backend);
  return Invocation.fromSignedBatch(payloads, batch, signature);
}

/**
 * @internal The batch payload of prepared payloads and the holder's one
 * signature over it (§4.4), without building each call's proof: for senders
 * that transmit the signed batch apart from its items (§4.5).
 */
export function signBatchParts(
  key: PrivateKey,
  payloads: readonly Uint8Array[],
  backend: Ed25519Backend = defaultBackend(),
): { batch: Uint8Array; signature: Uint8Array } {
  if (payloads.length < 1 || payloads.length > LIMITS.maxInvocationBatch)
    throw new InvalidArgumentError(`a batch holds 1 to ${LIMITS.maxInvocationBatch} calls`);
  const batch = encodeBatchPayload(payloads.map(invocationItemDigest));
  return { batch, signature: backend.sign(key.seed, batchSignedMessage(batch)) };
}

/** Creates and signs an invocation proof for one call. */
export function createInvocation(tokenInput: Token | string | Uint8Array, o: InvocationOptions): Invocation {
  if (!o) throw new InvalidArgumentError('createInvocation needs the holder private key');
  const tip = checkKey(o.key, Token.parse(tokenInput), 'createInvocation');
  return signInvocation(o.key, invocationFields(tip, o, (o.clock ?? systemClock)()).payload, o.backend ?? defaultBackend());
}

/**
 * Creates batched invocation proofs (docs/spec.md §4.4) for 1 to 64 calls
 * with ONE signature: returns one proof per call, in order. Each proof
 * authenticates its own call only (by inclusion in the signed batch); a
 * verifier checks the batch signature once for all of them. Each call has
 * exactly the fields and rules of createInvocation (own call id, nonce, ttl).
 */
export function createInvocationBatch(
  tokenInput: Token | string | Uint8Array,
  key: PrivateKey,
  calls: readonly BatchCall[],
  options: InvocationBatchOptions = {},
): Invocation[] {
  const token = Token.parse(tokenInput);
  const tip = checkKey(key, token, 'createInvocationBatch');
  if (!Array.isArray(calls) || calls.length < 1 || calls.length > LIMITS.maxInvocationBatch) {
    throw new InvalidArgumentError(`a batch holds 1 to ${LIMITS.maxInvocationBatch} calls`);
  }
  const now = (options.clock ?? systemClock)();
  const payloads = calls.map((c) => invocationFields(tip, c, now).payload);
  return signBatch(key, payloads, options.backend ?? defaultBackend());
}
