/**
 * The verifier: trusted keys, caches, clock, replay store and (optionally) a
 * revocation source, with the two ways of checking a call:
 *
 *  - verifyInvocation(): a signed invocation proof, for calls that cross a
 *    process boundary. The proof's signature by the token's holder key is
 *    checked, then that it matches the call, then the call rules.
 *  - authorize(): an in-process call. No per-call signature: the facts are
 *    taken from the call itself and the same call rules apply.
 *
 * Both return a Decision and never throw.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { equalBytes, toHex } from '../crypto/hash.ts';
import {
  CapframeError,
  ConfigError,
  InvalidArgumentError,
  InvocationMismatchError,
  MalformedError,
  ReplayError,
  SignatureInvalidError,
  type ErrorCode,
} from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import { argsDigestHex } from '../token/args.ts';
import { DEFAULTS, LIMITS } from '../token/limits.ts';
import { Invocation } from '../token/invocation.ts';
import { batchDigestAt, batchSignedMessage, invocationItemDigest } from '../token/invocation-batch.ts';
import { checkName, decodeInvocationPayload } from '../token/invocation-payload.ts';
import { normalizeResource } from '../token/resource.ts';
import { decodeTextForm, Token, TOKEN_PREFIX, tokenCacheKey } from '../token/token.ts';
import { Keyring, type PublicKeyInput } from './keyring.ts';
import { systemClock, type Clock } from '../clock.ts';
import { checkSignatureCached, verifyChain } from './chain.ts';
import { signedMessage, type Chain } from '../token/chain.ts';
import { checkCallNow, type Authorization, type CallFacts, type EffectiveGrant, type RuleContext } from './rules.ts';
import { Lru } from './lru.ts';
import { SizedLru } from './sized-lru.ts';
import { MemoryReplayStore, type ReplayStore } from './replay.ts';
import { isLimitStore, MemoryLimitStore, type LimitStore } from './limits.ts';
import { authorizeSync, verifyInvocationSync } from './sync.ts';
import type { ApprovalInput } from './approvals.ts';

export type TokenInput = Token | string | Uint8Array;

/**
 * A revocation source (see src/revocation). `check` throws ERR_REVOKED or
 * ERR_REVOCATION_STALE, or returns a promise rejecting with them (or
 * ERR_UNAVAILABLE) when it must ask a service (the compact form, §10.9).
 */
export interface RevocationCheck {
  check(chain: Chain, now: number): void | Promise<void>;
}

export interface VerifierOptions {
  /** Trusted authority keys: a Keyring, or public keys (cfk1.… text or raw bytes). */
  trusted: Keyring | readonly PublicKeyInput[];
  clock?: Clock;
  /** Seconds of clock difference tolerated on every time check. Default 30. */
  clockSkew?: number;
  /** Lifetime of an in-process invocation, seconds. Default 30, at most 300. */
  invocationWindow?: number;
  replay?: ReplayStore;
  /**
   * Counters of rate limits and budgets (docs/spec.md §14). Default: the
   * replay store when it keeps them (Redis, SQLite: shared like the replay
   * records), else a MemoryLimitStore for this process; a shared replay
   * store that keeps no counters gets none (a token with limits is then
   * denied, ERR_CONFIG: counting per process would let replicas overspend).
   */
  limits?: LimitStore;
  /** Capacity of the default in-memory replay store. */
  replayCapacity?: number;
  /**
   * Memory budget of the verified-chain cache, bytes (an estimate per chain:
   * its decoded blocks plus the token bytes; the text index gets a quarter
   * more). Default 384 MiB: about 100,000 two-block chains, filled only as
   * distinct tokens arrive.
   */
  chainCacheBytes?: number;
  /** Optional cap on the number of cached chains as well (default: none, the byte budget decides). */
  chainCacheSize?: number;
  signatureCacheSize?: number;
  backend?: Ed25519Backend;
  maxTokenBytes?: number;
  /** Longest delegation chain accepted (blocks after the root). Default 8. */
  maxDepth?: number;
  revocation?: RevocationCheck;
  /**
   * Signed proofs issued (`iat`) before this unix time are refused (ERR_REPLAY). A
   * verifier whose replay store does not survive a restart sets it to its start plus
   * the clock skew: it cannot know which earlier proofs it already accepted.
   */
  issuedAfter?: number;
}

interface DecisionBase {
  readonly tool?: string;
  readonly operation?: string;
  readonly resource?: string;
  readonly callId?: string;
  /** Hex SHA-256 based digest of the arguments (never the arguments). */
  readonly argsDigest?: string;
  readonly subject?: string;
  /** Block ids of the chain, root first (hex). */
  readonly chainIds?: readonly string[];
  /** Which path decided: a signed proof, an in-process check, or a session call (HMAC tag, docs/spec.md §13). */
  readonly mode: 'signed' | 'local' | 'session';
}

export interface Allowed extends DecisionBase {
  readonly allowed: true;
  readonly grant: EffectiveGrant;
  /** When the token's authority ends (unix seconds). */
  readonly expiresAt: number;
}

export interface Denied extends DecisionBase {
  readonly allowed: false;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly error: CapframeError;
}

export type Decision = Allowed | Denied;

/** The call being checked in process. */
export interface LocalCall {
  readonly tool: string;
  readonly operation: string;
  readonly resource: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** Unique per call (e.g. the LangChain tool call id). A second use is ERR_REPLAY. */
  readonly callId: string;
  /** Signed approvals (cfa1. text, bytes or Approval) for grants with an approval gate (docs/spec.md §15). */
  readonly approvals?: readonly ApprovalInput[];
}

/** What the verifier of a signed proof knows of the call independently of the proof. */
export interface ExpectedCall {
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** When given, the proof must name exactly this operation. */
  readonly operation?: string;
  /** When given, the proof must name exactly this resource (after normalisation). */
  readonly resource?: string;
  /** Signed approvals for grants with an approval gate (docs/spec.md §15). */
  readonly approvals?: readonly ApprovalInput[];
}

/**
 * Default memory budget of the verified-chain cache: about 100,000 two-block
 * chains at the per-chain estimate below (measured: bench suite agents,
 * cached_chain_bytes, ~3.9 KB per 2-block chain with its text key).
 */
export const DEFAULT_CHAIN_CACHE_BYTES = 384 * 1024 * 1024;
/**
 * Heap estimate of one cached chain: the entry, the decoded blocks (grants,
 * subjects, hex ids, key views) and the token bytes. Calibrated against
 * cached_chain_bytes; errs high.
 */
export function chainBytes(tokenBytes: number, blocks: number): number {
  return CHAIN_ENTRY_BYTES + CHAIN_BLOCK_BYTES * blocks + tokenBytes;
}
const CHAIN_ENTRY_BYTES = 1200;
const CHAIN_BLOCK_BYTES = 1100;
/** A cached token text: the string (one byte per character) and its map slot. */
export function textBytes(text: string): number {
  return 64 + text.length;
}

function isPlainArgs(a: unknown): a is Record<string, unknown> {
  return typeof a === 'object' && a !== null && !Array.isArray(a);
}

export class Verifier {
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly clockSkew: number;
  readonly invocationWindow: number;
  readonly replay: ReplayStore;
  readonly limits: LimitStore | undefined;
  readonly backend: Ed25519Backend;
  readonly maxTokenBytes: number;
  readonly maxDepth: number;
  revocation: RevocationCheck | undefined;
  readonly issuedAfter: number | undefined;
  readonly #chains: SizedLru<string, { epoch: number; chain: Chain }>;
  #byObject = new WeakMap<Token, { epoch: number; chain: Chain }>();
  /** Verified chains by the token's exact text form (at most chainCacheSize texts). */
  readonly #byText: SizedLru<string, { epoch: number; chain: Chain }>;
  readonly #signatures: Lru<string, true>;
  /**
   * Batch signatures already checked, by the digest list a batch's proofs
   * share (Invocation.fromBatchItem / fromSignedBatch): the 2nd … Nth item
   * of a batch skip even the signature-cache hash. Used only while key,
   * signature and batch payload are byte for byte those that were checked.
   */
  #batches = new WeakMap<readonly Uint8Array[], { key: Uint8Array; signature: Uint8Array; payload: Uint8Array }>();

  constructor(options: VerifierOptions) {
    if (!options || !options.trusted) throw new InvalidArgumentError('Verifier needs `trusted` authority keys');
    this.keyring = options.trusted instanceof Keyring ? options.trusted : new Keyring(options.trusted);
    this.clock = options.clock ?? systemClock;
    this.clockSkew = nonNegative(options.clockSkew ?? DEFAULTS.clockSkew, 'clockSkew', 3600);
    this.invocationWindow = nonNegative(options.invocationWindow ?? DEFAULTS.invocationWindow, 'invocationWindow', LIMITS.maxInvocationWindow);
    if (this.invocationWindow < 1) throw new InvalidArgumentError('invocationWindow must be at least 1 second');
    // Validated, not just clamped: Math.min(NaN, limit) is NaN, which would disable the limit.
    const size = (v: number | undefined, dflt: number, name: string) => nonNegative(v ?? dflt, name, Number.MAX_SAFE_INTEGER);
    this.replay = options.replay ?? new MemoryReplayStore(size(options.replayCapacity, DEFAULTS.replayCapacity, 'replayCapacity'));
    this.limits =
      options.limits ?? (isLimitStore(this.replay) ? this.replay : this.replay.shared || this.replay.persistent ? undefined : new MemoryLimitStore());
    this.backend = options.backend ?? defaultBackend();
    this.maxTokenBytes = Math.min(size(options.maxTokenBytes, LIMITS.maxTokenBytes, 'maxTokenBytes'), LIMITS.maxTokenBytes);
    this.maxDepth = Math.min(size(options.maxDepth, LIMITS.maxDepth, 'maxDepth'), LIMITS.maxDepth);
    const budget = size(options.chainCacheBytes, DEFAULT_CHAIN_CACHE_BYTES, 'chainCacheBytes');
    const count = options.chainCacheSize !== undefined ? size(options.chainCacheSize, 0, 'chainCacheSize') : Number.POSITIVE_INFINITY;
    // The text index holds only strings (the chains are shared with #chains): a quarter of the budget.
    this.#chains = new SizedLru(budget, count);
    this.#byText = new SizedLru(Math.max(1, Math.floor(budget / 4)), count);
    this.#signatures = new Lru(size(options.signatureCacheSize, DEFAULTS.blockCacheSize, 'signatureCacheSize'));
    this.revocation = options.revocation;
    if (options.issuedAfter !== undefined && (typeof options.issuedAfter !== 'number' || !Number.isFinite(options.issuedAfter)))
      throw new InvalidArgumentError('issuedAfter must be a finite unix time');
    this.issuedAfter = options.issuedAfter;
  }

  /** Parses and verifies a token's chain (cached). Throws a CapframeError. */
  verifyToken(input: TokenInput): Chain {
    const epoch = this.keyring.epoch;
    if (input instanceof Token) {
      const hit = this.#byObject.get(input);
      if (hit && hit.epoch === epoch) return hit.chain;
    } else if (typeof input === 'string') {
      // The same text again (the service gets every call's token as text): no decoding, no hashing.
      const hit = this.#byText.get(input);
      if (hit && hit.epoch === epoch) return hit.chain;
    }
    // Text or bytes: look the bytes up before parsing them. The key is the one
    // Token.cacheKey() gives; a hit means these exact bytes already parsed and
    // verified under this verifier's (fixed) limits.
    const raw = typeof input === 'string' ? decodeTextForm(input, TOKEN_PREFIX, this.maxTokenBytes, 'token') : input;
    let key: string | undefined;
    if (raw instanceof Uint8Array) {
      key = tokenCacheKey(raw);
      const hit = this.#chains.get(key);
      if (hit && hit.epoch === epoch) {
        if (typeof input === 'string') this.#byText.set(input, hit, textBytes(input));
        return hit.chain;
      }
    }
    const token = Token.parse(raw, { maxBytes: this.maxTokenBytes, maxDepth: this.maxDepth });
    if (key === undefined) {
      key = token.cacheKey();
      const hit = this.#chains.get(key);
      if (hit && hit.epoch === epoch) {
        this.#byObject.set(token, hit);
        return hit.chain;
      }
    }
    const chain = verifyChain(token, {
      backend: this.backend,
      trustedKey: (kid) => this.keyring.get(kid),
      signatureCache: this.#signatures,
    });
    const entry = { epoch, chain };
    this.#chains.set(key, entry, chainBytes(token.bytes.length, chain.blocks.length));
    if (input instanceof Token) this.#byObject.set(input, entry);
    else if (typeof input === 'string') this.#byText.set(input, entry, textBytes(input));
    return chain;
  }

  /** Drops every cached chain and verified signature. */
  clearCaches(): void {
    this.#chains.clear();
    this.#byObject = new WeakMap();
    this.#byText.clear();
    this.#batches = new WeakMap();
    this.#signatures.clear();
  }

  /** In-process check of one call (no per-call signature). Never throws. */
  async authorize(token: TokenInput, call: LocalCall): Promise<Decision> {
    return this[authorizeSync](token, call);
  }

  /** authorize() without a promise when the replay store answers synchronously (internal: see sync.ts). Never throws. */
  [authorizeSync](token: TokenInput, call: LocalCall): Decision | Promise<Decision> {
    const base: { -readonly [K in keyof DecisionBase]: DecisionBase[K] } = { mode: 'local' };
    try {
      if (!call || typeof call !== 'object') throw new InvalidArgumentError('authorize() needs a call');
      base.tool = checkName(call.tool, 'tool name');
      base.operation = checkName(call.operation, 'operation');
      base.callId = checkName(call.callId, 'call id');
      if (!isPlainArgs(call.args)) throw new InvalidArgumentError('call arguments must be an object');
      const chain = this.verifyToken(token);
      base.subject = chain.subject;
      base.chainIds = chain.ids;
      const resource = normalizeResource(call.resource);
      base.resource = resource;
      const hex = argsDigestHex(call.args);
      base.argsDigest = hex;
      const now = this.#now();
      const facts: CallFacts = {
        tool: call.tool,
        operation: call.operation,
        resource,
        args: call.args,
        argsHex: hex,
        callId: call.callId,
        iat: now,
        exp: now + this.invocationWindow,
        approvals: call.approvals,
      };
      const decided = this.#rules(chain, facts, base, now);
      return decided instanceof Promise ? decided.then(undefined, (e: unknown) => deny(base, e)) : decided;
    } catch (e) {
      return deny(base, e);
    }
  }

  /**
   * Checks a signed invocation proof against the call the verifier sees: a
   * single proof (`cfi1.`) or one call of a batched proof (`cfb1.`, §4.4),
   * then the same rules for both. Never throws.
   */
  async verifyInvocation(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision> {
    return this[verifyInvocationSync](token, invocation, expected);
  }

  /** verifyInvocation() without a promise when the replay store answers synchronously (internal: see sync.ts). Never throws. */
  [verifyInvocationSync](token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Decision | Promise<Decision> {
    const base: { -readonly [K in keyof DecisionBase]: DecisionBase[K] } = { mode: 'signed' };
    try {
      if (!expected || typeof expected !== 'object') throw new InvalidArgumentError('verifyInvocation() needs the expected call');
      if (!isPlainArgs(expected.args)) throw new InvalidArgumentError('call arguments must be an object');
      base.tool = expected.tool;
      const chain = this.verifyToken(token);
      base.subject = chain.subject;
      base.chainIds = chain.ids;
      const proof = Invocation.parse(invocation);
      const payload = proof.block.payload;
      const batch = proof.batch;
      if (batch === undefined) {
        if (!this.backend.verify(chain.holder, signedMessage('invocation', payload), proof.block.signature)) {
          throw new SignatureInvalidError("invocation is not signed by the token's holder key");
        }
      } else {
        // Batched proof (§4.4): the item must be the one the batch lists at its index, and
        // the batch signed by the holder key (checked once per batch: the signature cache).
        // The digest is read from the signed payload bytes themselves, never from a list beside them.
        const d = batchDigestAt(batch.payload, batch.index);
        if (d === undefined) throw new InvocationMismatchError(`batch index ${batch.index} is outside the batch`);
        if (!equalBytes(invocationItemDigest(payload), d)) throw new InvocationMismatchError('invocation is not the batch item at its index');
        const seen = this.#batches.get(batch.digests);
        const sig = proof.block.signature;
        if (!(seen && equalBytes(seen.key, chain.holder) && equalBytes(seen.signature, sig) && equalBytes(seen.payload, batch.payload))) {
          checkSignatureCached(
            this.backend,
            this.#signatures,
            chain.holder,
            batchSignedMessage(batch.payload),
            sig,
            "invocation batch is not signed by the token's holder key",
          );
          this.#batches.set(batch.digests, { key: Uint8Array.from(chain.holder), signature: Uint8Array.from(sig), payload: Uint8Array.from(batch.payload) });
        }
      }
      const p = decodeInvocationPayload(payload);
      Object.assign(base, { operation: p.operation, resource: p.resource, callId: p.callId, argsDigest: toHex(p.args) });
      if (!equalBytes(p.tip, chain.tip)) throw new InvocationMismatchError('invocation was made for another token');
      if (this.issuedAfter !== undefined && p.iat < this.issuedAfter) {
        throw new ReplayError(
          'the proof was issued before this verifier started (plus the clock skew); its replay store does not survive a restart, so it may have been used already',
        );
      }
      if (p.tool !== expected.tool) throw new InvocationMismatchError(`invocation is for tool "${p.tool}", not "${expected.tool}"`);
      if (expected.operation !== undefined && p.operation !== expected.operation) {
        throw new InvocationMismatchError(`invocation is for operation "${p.operation}", not "${expected.operation}"`);
      }
      const resource = normalizeResource(p.resource);
      if (resource !== p.resource) throw new MalformedError('invocation resource is not in normal form');
      if (expected.resource !== undefined && normalizeResource(expected.resource) !== resource) {
        throw new InvocationMismatchError(`invocation is for resource ${p.resource}, not ${expected.resource}`);
      }
      const hex = argsDigestHex(expected.args);
      if (hex !== base.argsDigest) throw new InvocationMismatchError('arguments differ from the ones the invocation was signed for');
      const facts: CallFacts = {
        tool: p.tool,
        operation: p.operation,
        resource,
        args: expected.args,
        argsHex: hex,
        callId: p.callId,
        iat: p.iat,
        exp: p.exp,
        approvals: expected.approvals,
      };
      const decided = this.#rules(chain, facts, base, this.#now());
      return decided instanceof Promise ? decided.then(undefined, (e: unknown) => deny(base, e)) : decided;
    } catch (e) {
      return deny(base, e);
    }
  }

  /** The clock's time, refused unless it is a finite number (a NaN would pass every time check). */
  #now(): number {
    const t = this.clock();
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new ConfigError('the verifier clock did not return a finite time (unix seconds)');
    // Whole seconds (spec §9): every bound is an integer, and local calls take iat/exp from now.
    return Math.floor(t);
  }

  /** The call rules, then the decision. Synchronous unless the replay store is asynchronous. */
  #rules(chain: Chain, facts: CallFacts, base: DecisionBase, now: number): Allowed | Promise<Allowed> {
    const ctx: RuleContext = { now, skew: this.clockSkew, replay: this.replay, revocation: this.revocation, limits: this.limits, backend: this.backend };
    const auth = checkCallNow(chain, facts, ctx);
    return auth instanceof Promise ? auth.then((a) => completeAllowed(base, a)) : completeAllowed(base, auth);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * `base` belongs to one call only: complete it in place rather than copy it
 * (an object spread here costs microseconds). Same keys, same order, frozen.
 */
function completeAllowed(base: DecisionBase, auth: Authorization): Allowed {
  const d = base as Mutable<Allowed>;
  d.allowed = true;
  d.grant = auth.grant;
  d.expiresAt = auth.expiresAt;
  return Object.freeze(d);
}

function deny(base: DecisionBase, e: unknown): Denied {
  const error = toCapframeError(e);
  const d = base as Mutable<Denied>;
  d.allowed = false;
  d.code = error.code;
  d.reason = error.message;
  d.error = error;
  return Object.freeze(d);
}

function nonNegative(v: number, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw new InvalidArgumentError(`${name} must be a number from 0 to ${max}`);
  return Math.floor(v);
}
