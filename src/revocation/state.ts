/**
 * The verifier side of revocation: holds the newest verified snapshot and
 * answers `check(chain, now)` for the Verifier (VerifierOptions.revocation).
 *
 * Hot path: the answer is remembered per Chain object (WeakMap) for the
 * snapshot version it was computed against, so a cached chain costs one
 * WeakMap lookup and two comparisons. On a miss every block id goes through
 * the bloom filter; a bloom hit is confirmed by binary search in the exact
 * sorted id list before anything is denied (no false-positive denials).
 */
import bf from 'bloom-filters';
import { Keyring, type PublicKeyInput } from '../verify/keyring.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { InvalidArgumentError, RevocationRollbackError, RevocationStaleError, RevokedError } from '../errors.ts';
import { kidToString } from '../crypto/keys.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Chain } from '../token/chain.ts';
import type { RevocationCheck } from '../verify/verifier.ts';
import { bloomFromParams, containsId, ID_BYTES, idToHex, parseSnapshot, type ParsedSnapshot } from './snapshot.ts';

type BloomFilter = InstanceType<typeof bf.BloomFilter>;

/** Default bound on snapshot age before checks fail closed (seconds). */
export const DEFAULT_MAX_AGE = 300;

export interface RevocationStateOptions {
  /** Keys allowed to sign snapshots (the authority keys). */
  trusted: Keyring | readonly PublicKeyInput[];
  /**
   * Seconds a snapshot stays usable after the authority signed it (its iat).
   * Older -> every check fails with ERR_REVOCATION_STALE. Default 300.
   */
  maxAge?: number;
  /** Clock skew tolerated on the snapshot's iat, seconds. Default 30. */
  skew?: number;
  /**
   * DANGEROUS: when stale (or no snapshot yet), allow calls instead of
   * failing closed. Logs a warning to stderr on every such call.
   */
  failOpen?: boolean;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** Where fail-open warnings go (default: process.stderr). */
  warn?: (message: string) => void;
}

export interface UpdateResult {
  /** 'installed': newer version; 'refreshed': same version, newer iat; 'ignored': same or older iat of the held version. */
  readonly outcome: 'installed' | 'refreshed' | 'ignored';
  readonly version: number;
}

interface Held {
  readonly snap: ParsedSnapshot;
  readonly bloom: BloomFilter;
  readonly subjects: ReadonlySet<string>;
  readonly cutoffs: ReadonlyMap<string, number>;
}

interface Cached {
  readonly version: number;
  /** Why the chain is revoked, or null when it is not. */
  readonly reason: string | null;
}

export class RevocationState implements RevocationCheck {
  readonly keyring: Keyring;
  readonly maxAge: number;
  readonly skew: number;
  readonly failOpen: boolean;
  readonly #clock: Clock;
  readonly #backend: Ed25519Backend | undefined;
  readonly #warn: (message: string) => void;
  #held: Held | undefined;
  /** iat of the held snapshot (may advance without a version change). */
  #iat = -1;
  #cache = new WeakMap<Chain, Cached>();
  readonly #listeners = new Set<(r: UpdateResult) => void>();

  constructor(options: RevocationStateOptions) {
    if (!options || !options.trusted) throw new InvalidArgumentError('RevocationState needs the trusted authority keys');
    this.keyring = options.trusted instanceof Keyring ? options.trusted : new Keyring(options.trusted);
    this.maxAge = positive(options.maxAge ?? DEFAULT_MAX_AGE, 'maxAge');
    this.skew = positive(options.skew ?? 30, 'skew', true);
    this.failOpen = options.failOpen === true;
    this.#clock = options.clock ?? systemClock;
    this.#backend = options.backend;
    this.#warn = options.warn ?? ((m) => process.stderr.write(m + '\n'));
    if (this.failOpen) this.#warn('capframe: WARNING revocation is configured to FAIL OPEN: stale revocation data will not block calls');
  }

  /** Version of the held snapshot, or -1 before the first one. */
  get version(): number {
    return this.#held ? this.#held.snap.version : -1;
  }

  /** When the authority signed the held snapshot (unix seconds), or -1. */
  get issuedAt(): number {
    return this.#iat;
  }

  /** Number of revoked ids in the held snapshot. */
  get size(): number {
    return this.#held ? this.#held.snap.ids.length / ID_BYTES : 0;
  }

  /** Calls `fn` after every installed or refreshed snapshot; returns an unsubscribe function. */
  onUpdate(fn: (r: UpdateResult) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Verifies a snapshot and installs it if it is newer than the held one.
   * Throws ERR_UNKNOWN_KEY / ERR_SIGNATURE_INVALID / ERR_MALFORMED /
   * ERR_NOT_YET_VALID for a bad snapshot and ERR_REVOCATION_ROLLBACK for an
   * older version; the held snapshot is unchanged then.
   */
  update(input: string | Uint8Array): UpdateResult {
    const now = this.#clock();
    const snap = parseSnapshot(input, this.keyring, { now, skew: this.skew, ...(this.#backend ? { backend: this.#backend } : {}) });
    const held = this.#held;
    if (held && snap.version < held.snap.version) {
      throw new RevocationRollbackError(`revocation snapshot version ${snap.version} is older than the held version ${held.snap.version}`);
    }
    let result: UpdateResult;
    if (held && snap.version === held.snap.version) {
      if (snap.iat <= this.#iat) return { outcome: 'ignored', version: snap.version };
      // Same revocations, newer signature time: a freshness proof. Cached answers stay valid.
      this.#iat = snap.iat;
      result = { outcome: 'refreshed', version: snap.version };
    } else {
      this.#held = prepare(snap);
      this.#iat = snap.iat;
      result = { outcome: 'installed', version: snap.version };
    }
    for (const fn of this.#listeners) fn(result);
    return result;
  }

  /** RevocationCheck: throws ERR_REVOKED or ERR_REVOCATION_STALE. */
  check(chain: Chain, now: number): void {
    const held = this.#held;
    if (held === undefined || now > this.#iat + this.maxAge + this.skew) {
      const why = held === undefined
        ? 'no revocation snapshot has been loaded yet'
        : `revocation snapshot version ${held.snap.version} was signed ${now - this.#iat}s ago (bound ${this.maxAge}s)`;
      if (!this.failOpen) throw new RevocationStaleError(why);
      this.#warn(`capframe: WARNING revocation FAIL-OPEN: ${why}; allowing chain ${chain.ids[chain.ids.length - 1]} without current revocation data`);
      if (held === undefined) return;
    }
    const version = held.snap.version;
    const hit = this.#cache.get(chain);
    if (hit !== undefined && hit.version === version) {
      if (hit.reason !== null) throw new RevokedError(hit.reason);
      return;
    }
    const reason = revokedBecause(held, chain);
    this.#cache.set(chain, { version, reason });
    if (reason !== null) throw new RevokedError(reason);
  }

  /** Exact answer for one id (bloom filter, then the sorted list). */
  isRevokedId(idHex: string): boolean {
    const held = this.#held;
    return held !== undefined && idRevoked(held, idHex);
  }
}

function prepare(snap: ParsedSnapshot): Held {
  const bloom = bloomFromParams(snap.bloom);
  // Cheap sanity check of the bloom filter against the exact list: a filter
  // built with another hash scheme would otherwise miss revocations.
  const n = snap.ids.length / ID_BYTES;
  const step = Math.max(1, Math.floor(n / 32));
  for (let i = 0; i < n; i += step) {
    if (!bloom.has(idToHex(snap.ids, i))) {
      throw new InvalidArgumentError('revocation snapshot: bloom filter does not contain a listed id (incompatible filter)');
    }
  }
  return {
    snap,
    bloom,
    subjects: new Set(snap.subjects),
    cutoffs: new Map(snap.cutoffs.map((c) => [kidToString(c.kid), c.before])),
  };
}

function idRevoked(held: Held, idHex: string): boolean {
  if (held.snap.ids.length === 0 || !held.bloom.has(idHex)) return false;
  // Bloom hit: confirm exactly before denying.
  const id = Buffer.from(idHex, 'hex');
  return id.length === ID_BYTES && containsId(held.snap.ids, id);
}

function revokedBecause(held: Held, chain: Chain): string | null {
  for (let i = 0; i < chain.ids.length; i++) {
    if (idRevoked(held, chain.ids[i]!)) {
      return `${i === 0 ? 'root block' : `delegation block ${i}`} ${chain.ids[i]} is revoked (snapshot version ${held.snap.version})`;
    }
  }
  if (held.subjects.size > 0) {
    for (let i = 0; i < chain.blocks.length; i++) {
      const s = chain.blocks[i]!.subject;
      if (held.subjects.has(s)) return `subject ${JSON.stringify(s)} (block ${i}) is revoked (snapshot version ${held.snap.version})`;
    }
  }
  const before = held.cutoffs.get(chain.kid);
  const iat = chain.blocks[0]?.iat;
  if (before !== undefined && iat !== undefined && iat < before) {
    return `tokens of authority key ${chain.kid} issued before ${new Date(before * 1000).toISOString()} are revoked (snapshot version ${held.snap.version})`;
  }
  return null;
}

function positive(v: number, name: string, zeroOk = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (zeroOk ? 0 : 1)) throw new InvalidArgumentError(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds`);
  return Math.floor(v);
}

export interface LoadSnapshotOptions extends Omit<RevocationStateOptions, 'trusted'> {}

/**
 * A RevocationCheck from a snapshot file's text (for `capframe verify
 * --revocations FILE`). A file is refreshed by hand, so the default age bound
 * here is one day (`maxAge` to change it). Throws for an invalid snapshot.
 */
export function loadSnapshotCheck(text: string, trusted: Keyring | readonly PublicKeyInput[], opts: LoadSnapshotOptions = {}): RevocationState {
  const state = new RevocationState({ maxAge: 86400, ...opts, trusted });
  state.update(text);
  return state;
}
