/**
 * The verifier side of the compact form (docs/spec.md §10.9): holds only the
 * newest verified bloom form of each trusted authority (per-signer version
 * lines and scopes exactly as RevocationState) and answers `check(chain, now)`:
 *
 * - subjects and key cut-offs are exact lists: decided here;
 * - no block id in the filter: not revoked (synchronously, no I/O);
 * - a filter hit may be a false positive: it is confirmed with the service
 *   (`confirm`, POST /v1/revocation/check) before the call is denied. The
 *   service says revoked -> ERR_REVOKED; not revoked -> allowed; unreachable
 *   or a bad answer -> ERR_UNAVAILABLE (fail closed: denied).
 *
 * Confirmed answers are remembered in a bounded map: "revoked" for good
 * (revocations are permanent), "not revoked" for `confirmTtl` seconds and
 * never across a newly installed version.
 */
import { Keyring } from '../verify/keyring.ts';
import { kidToString, type PublicKeyInput } from '../crypto/keys.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { toCapframeError } from '../error-codes.ts';
import { InvalidArgumentError, RevocationStaleError, RevokedError, UnavailableError, UnknownKeyError } from '../errors.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Chain } from '../token/chain.ts';
import type { RevocationCheck } from '../verify/verifier.ts';
import { bloomHasHex, parseBloomForm, type BloomFilterBits } from './bloom.ts';
import { DEFAULT_MAX_AGE, scopeLines, versionStep, type RevocationScope, type UpdateResult } from './state.ts';

/** What the service says about the ids it was asked about. */
export interface ConfirmAnswer {
  /** The asked ids (lowercase hex) that are revoked; every other asked id is not. */
  readonly revoked: readonly string[];
}

/** Asks the service about block ids (32 lowercase hex digits each). Rejects when it cannot answer. */
export type ConfirmFn = (ids: readonly string[]) => Promise<ConfirmAnswer>;

export interface BloomRevocationStateOptions {
  trusted: Keyring | readonly PublicKeyInput[];
  /** As RevocationStateOptions.scopes. */
  scopes?: readonly RevocationScope[];
  /** Seconds a bloom form stays usable after its iat. Default 300. */
  maxAge?: number;
  skew?: number;
  /** Confirms filter hits with the service. */
  confirm: ConfirmFn;
  /** Seconds a "not revoked" answer is remembered. Default 5. */
  confirmTtl?: number;
  /** Remembered answers at most. Default 10,000. */
  confirmCache?: number;
  clock?: Clock;
  backend?: Ed25519Backend;
}

interface Line {
  readonly kid: string;
  version: number;
  iat: number;
  bloom: BloomFilterBits | undefined;
  subjects: Set<string>;
  cutoffs: Map<string, number>;
}

interface Answer {
  readonly revoked: boolean;
  /** Not revoked: valid until this time (unix s) and only for this generation. */
  readonly until: number;
  readonly generation: number;
}

const NONE: readonly Line[] = Object.freeze([]);

function seconds(v: number, name: string, zeroOk: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (zeroOk ? 0 : 1))
    throw new InvalidArgumentError(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds`);
  return Math.floor(v);
}

export class BloomRevocationState implements RevocationCheck {
  readonly keyring: Keyring;
  readonly maxAge: number;
  readonly skew: number;
  readonly confirmTtl: number;
  readonly #confirm: ConfirmFn;
  readonly #clock: Clock;
  readonly #backend: Ed25519Backend | undefined;
  readonly #lines = new Map<string, Line>();
  readonly #speakers: Map<string, readonly Line[]> | undefined;
  readonly #own = new Map<string, readonly Line[]>();
  readonly #answers = new Map<string, Answer>();
  readonly #maxAnswers: number;
  #generation = 0;
  /** Chains decided without asking (no filter hit, or a subject / cut-off), per install generation. */
  #cache = new WeakMap<Chain, { generation: number; reason: string | null }>();
  readonly #listeners = new Set<(r: UpdateResult) => void>();

  constructor(o: BloomRevocationStateOptions) {
    if (!o || !o.trusted) throw new InvalidArgumentError('BloomRevocationState needs the trusted authority keys');
    if (typeof o.confirm !== 'function')
      throw new InvalidArgumentError('BloomRevocationState needs a confirm function (the service that confirms filter hits)');
    this.keyring = o.trusted instanceof Keyring ? o.trusted : new Keyring(o.trusted);
    this.maxAge = seconds(o.maxAge ?? DEFAULT_MAX_AGE, 'maxAge', false);
    this.skew = seconds(o.skew ?? 30, 'skew', true);
    this.confirmTtl = seconds(o.confirmTtl ?? 5, 'confirmTtl', true);
    const cap = o.confirmCache ?? 10_000;
    if (!Number.isSafeInteger(cap) || cap < 0) throw new InvalidArgumentError('confirmCache must be a non-negative integer');
    this.#maxAnswers = cap;
    this.#confirm = o.confirm;
    this.#clock = o.clock ?? systemClock;
    this.#backend = o.backend;
    if (o.scopes !== undefined) {
      const { lines, speakers } = scopeLines(o.scopes, this.keyring, newLine);
      for (const [k, l] of lines) this.#lines.set(k, l);
      this.#speakers = speakers;
    }
  }

  /** Version held from the authority key `kid` (base64url), or -1. */
  versionOf(kid: string): number {
    return this.#lines.get(kid)?.version ?? -1;
  }

  /** Highest held version, -1 before the first. */
  get version(): number {
    let v = -1;
    for (const l of this.#lines.values()) if (l.version > v) v = l.version;
    return v;
  }

  /** Remembered service answers (bounded by `confirmCache`). */
  get remembered(): number {
    return this.#answers.size;
  }

  onUpdate(fn: (r: UpdateResult) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Verifies a compact form and installs it under the same rules as a
   * snapshot (§10.4 step 8): per signer, a lower version is
   * ERR_REVOCATION_ROLLBACK, the same version with a newer iat a refresh.
   */
  update(input: string | Uint8Array): UpdateResult {
    const f = parseBloomForm(input, this.keyring, { now: this.#clock(), skew: this.skew, ...(this.#backend ? { backend: this.#backend } : {}) });
    let line = this.#lines.get(f.kid);
    if (line === undefined) {
      if (this.#speakers !== undefined)
        throw new UnknownKeyError(`revocation bloom form signer ${f.kid} is trusted but no revocation scope names it as a signer`);
      line = newLine(f.kid);
      this.#lines.set(f.kid, line);
      this.#own.set(f.kid, [line]);
    }
    const step = versionStep(line, f, 'bloom form');
    if (step === 'ignored') return { outcome: 'ignored', version: f.version, kid: f.kid };
    let result: UpdateResult;
    if (step === 'refreshed') {
      line.iat = f.iat;
      result = { outcome: 'refreshed', version: f.version, kid: f.kid };
    } else {
      line.version = f.version;
      line.iat = f.iat;
      line.bloom = f.bloom;
      line.subjects = new Set(f.subjects);
      line.cutoffs = new Map(f.cutoffs.map((c) => [kidToString(c.kid), c.before]));
      this.#generation++;
      result = { outcome: 'installed', version: f.version, kid: f.kid };
    }
    for (const fn of this.#listeners) fn(result);
    return result;
  }

  /** Compact forms have no deltas: a verifier in this mode polls the full form. */
  applyDelta(): UpdateResult {
    return { outcome: 'gap', version: this.version, kid: '' };
  }

  #speakersOf(kid: string): readonly Line[] {
    if (this.#speakers !== undefined) return this.#speakers.get(kid) ?? NONE;
    return this.#own.get(kid) ?? NONE;
  }

  /**
   * RevocationCheck: throws ERR_REVOKED / ERR_REVOCATION_STALE when decided
   * here; returns a promise (rejecting with ERR_REVOKED or ERR_UNAVAILABLE)
   * only when a filter hit must be confirmed with the service.
   */
  check(chain: Chain, now: number): void | Promise<void> {
    const lines = this.#speakersOf(chain.kid);
    if (lines.length === 0) {
      throw new RevocationStaleError(
        this.#speakers !== undefined
          ? `no revocation scope covers authority key ${chain.kid}`
          : `no revocation bloom form of authority key ${chain.kid} has been loaded yet`,
      );
    }
    for (const l of lines) {
      if (l.version < 0) throw new RevocationStaleError(`no revocation bloom form of authority key ${l.kid} has been loaded yet`);
      if (now > l.iat + this.maxAge + this.skew)
        throw new RevocationStaleError(
          `revocation bloom form version ${l.version} of authority key ${l.kid} was signed ${now - l.iat}s ago (bound ${this.maxAge}s)`,
        );
    }
    const generation = this.#generation;
    const cached = this.#cache.get(chain);
    if (cached !== undefined && cached.generation === generation) {
      if (cached.reason !== null) throw new RevokedError(cached.reason);
      return;
    }
    let hits: number[] | undefined;
    for (const l of lines) {
      const reason = exactReason(l, chain);
      if (reason !== null) {
        this.#cache.set(chain, { generation, reason });
        throw new RevokedError(reason);
      }
      for (let i = 0; i < chain.ids.length; i++) {
        if (hits?.includes(i)) continue;
        if (bloomHasHex(l.bloom!, chain.ids[i]!)) (hits ??= []).push(i);
      }
    }
    if (hits === undefined) {
      this.#cache.set(chain, { generation, reason: null });
      return;
    }
    // Filter hits: remembered answers first, the service for the rest.
    const ask: string[] = [];
    for (const i of hits) {
      const idHex = chain.ids[i]!;
      const a = this.#answers.get(idHex);
      if (a !== undefined && (a.revoked || (a.generation === generation && now < a.until))) {
        if (a.revoked) throw new RevokedError(revokedReason(i, idHex));
        continue;
      }
      ask.push(idHex);
    }
    if (ask.length === 0) return;
    return this.#ask(ask, chain, generation, now);
  }

  async #ask(ask: string[], chain: Chain, generation: number, now: number): Promise<void> {
    let answer: ConfirmAnswer;
    try {
      answer = await this.#confirm(ask);
      if (!answer || !Array.isArray(answer.revoked)) throw new Error('the answer has no revoked list');
      for (const r of answer.revoked) if (!ask.includes(r)) throw new Error('the answer names an id that was not asked about');
    } catch (e) {
      const err = toCapframeError(e, 'ERR_UNAVAILABLE');
      throw new UnavailableError(
        `revocation filter hit on block ${ask[0]} of chain ${chain.ids[chain.ids.length - 1]} could not be confirmed with the revocation service (${err.message}); denied`,
      );
    }
    const revoked = new Set(answer.revoked);
    for (const idHex of ask) this.#remember(idHex, { revoked: revoked.has(idHex), until: now + this.confirmTtl, generation });
    for (const idHex of ask) {
      if (revoked.has(idHex)) throw new RevokedError(revokedReason(chain.ids.indexOf(idHex), idHex));
    }
  }

  #remember(idHex: string, a: Answer): void {
    if (this.#maxAnswers === 0) return;
    this.#answers.delete(idHex);
    if (this.#answers.size >= this.#maxAnswers) this.#answers.delete(this.#answers.keys().next().value!);
    this.#answers.set(idHex, a);
  }
}

function newLine(kid: string): Line {
  return { kid, version: -1, iat: -1, bloom: undefined, subjects: new Set(), cutoffs: new Map() };
}

function revokedReason(i: number, idHex: string): string {
  return `${i === 0 ? 'root block' : `delegation block ${i}`} ${idHex} is revoked (filter hit confirmed by the revocation service)`;
}

function exactReason(l: Line, chain: Chain): string | null {
  if (l.subjects.size > 0) {
    for (let i = 0; i < chain.blocks.length; i++) {
      const s = chain.blocks[i]!.subject;
      if (l.subjects.has(s)) return `subject ${JSON.stringify(s)} (block ${i}) is revoked (authority ${l.kid}, bloom form version ${l.version})`;
    }
  }
  const before = l.cutoffs.get(chain.kid);
  const iat = chain.blocks[0]?.iat;
  if (before !== undefined && iat !== undefined && iat < before) {
    return `tokens of authority key ${chain.kid} issued before ${new Date(before * 1000).toISOString()} are revoked (authority ${l.kid}, bloom form version ${l.version})`;
  }
  return null;
}
