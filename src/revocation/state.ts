/**
 * The verifier side of revocation: holds the newest verified snapshot of each
 * trusted authority and answers `check(chain, now)` for the Verifier
 * (VerifierOptions.revocation).
 *
 * Per authority: every snapshot signer has its own version line, and its
 * snapshots speak only for the chains its scope names (by default the chains
 * rooted in its own key). So one trusted key can neither un-revoke another's
 * chains (by installing an empty list under a huge version) nor lock another
 * out (its version line is not touched). A chain is checked against every
 * snapshot whose signer speaks for the chain's root key, and every one of
 * them must be held and fresh, or the check fails closed.
 *
 * Hot path: the answer is remembered per Chain object (WeakMap) for the
 * install generation it was computed against, so a cached chain costs one
 * WeakMap lookup, one Map lookup and a freshness comparison per speaking
 * signer. On a miss every block id is looked up in the exact sorted id list
 * (binary search); the bloom filter of the snapshot is not consulted here: it
 * is the compact form for verifiers that cannot hold the list (§10.9).
 */
import { Keyring } from '../verify/keyring.ts';
import { toPublicKey, type PublicKeyInput } from '../crypto/keys.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { InvalidArgumentError, RevocationRollbackError, RevocationStaleError, RevokedError, UnknownKeyError } from '../errors.ts';
import { keyId, kidToString } from '../crypto/keys.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Chain } from '../token/chain.ts';
import type { RevocationCheck } from '../verify/verifier.ts';
import { containsId, ID_BYTES, mergeIds, parseSnapshot, type ParsedSnapshot } from './snapshot.ts';
import { parseDelta } from './delta.ts';

/** Default bound on snapshot age before checks fail closed (seconds). */
export const DEFAULT_MAX_AGE = 300;

/** A snapshot signer and the authority keys whose chains its snapshots speak for. */
export interface RevocationScope {
  /** The key that signs the snapshots (must be one of `trusted`). */
  readonly signer: PublicKeyInput;
  /**
   * Keys (public keys or base64url key ids) whose chains the signer's snapshots
   * cover. Include the signer itself if its own chains are covered.
   */
  readonly covers: readonly (PublicKeyInput | string)[];
}

export interface RevocationStateOptions {
  /** Keys allowed to sign snapshots (the authority keys). */
  trusted: Keyring | readonly PublicKeyInput[];
  /**
   * Which chains each signer's snapshots speak for. Default: every trusted
   * key speaks for the chains rooted in itself alone. With scopes given, only
   * the listed signers' snapshots are used, and a chain rooted in a key no
   * scope covers fails closed (ERR_REVOCATION_STALE): nothing speaks for it.
   * Key rotation: `{ signer: NEW, covers: [OLD, NEW] }` lets the new key's
   * registry revoke tokens the old key issued.
   */
  scopes?: readonly RevocationScope[];
  /**
   * Seconds a snapshot stays usable after the authority signed it (its iat).
   * Older -> every check of a chain it speaks for fails with ERR_REVOCATION_STALE. Default 300.
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
  /**
   * 'installed': newer version; 'refreshed': same version, newer iat; 'ignored': same or older iat of
   * the held version (or a delta already covered); 'gap' (deltas only): the delta does not start at the
   * held version, nothing changed, fetch a full snapshot.
   */
  readonly outcome: 'installed' | 'refreshed' | 'ignored' | 'gap';
  readonly version: number;
  /** Key id (base64url) of the authority whose version line this was. */
  readonly kid: string;
}

/** One authority's version line: what its newest snapshot plus the deltas applied since say. */
interface Line {
  readonly kid: string;
  /** -1 until a snapshot is installed. */
  version: number;
  iat: number;
  /** n x 16 bytes, strictly ascending. */
  ids: Uint8Array;
  subjects: Set<string>;
  cutoffs: Map<string, number>;
}

interface Cached {
  readonly generation: number;
  /** Why the chain is revoked, or null when it is not. */
  readonly reason: string | null;
}

/**
 * Where a signed version stands against the version line it speaks for
 * (§10.4.1): older is a rollback (ERR_REVOCATION_ROLLBACK), the same version
 * with a signature no newer is ignored, the same version signed later is a
 * refresh, a newer version is installed. Shared by snapshots and compact forms.
 */
export function versionStep(
  line: { readonly version: number; readonly iat: number },
  signed: { readonly version: number; readonly iat: number; readonly kid: string },
  what: string,
): 'ignored' | 'refreshed' | 'install' {
  const held = line.version >= 0;
  if (held && signed.version < line.version) {
    throw new RevocationRollbackError(`revocation ${what} version ${signed.version} of authority ${signed.kid} is older than the held version ${line.version}`);
  }
  if (!held || signed.version !== line.version) return 'install';
  return signed.iat <= line.iat ? 'ignored' : 'refreshed';
}

/** Key id text of a scope entry: a public key or its key id (both verifier forms share it). */
export function kidOf(k: PublicKeyInput | string): string {
  if (typeof k === 'string' && !k.startsWith('cfk1.')) {
    const raw = Buffer.from(k, 'base64url');
    if (raw.length !== 8 || kidToString(raw) !== k)
      throw new InvalidArgumentError(`revocation scope: ${JSON.stringify(k)} is neither a public key nor a key id`);
    return k;
  }
  return kidToString(keyId(toPublicKey(k)));
}

/**
 * The version lines of configured scopes (§10.4.1): one line per listed
 * signer, and for each covered root key the lines that speak for it. Shared
 * by the exact-list and the compact-form verifier states.
 */
export function scopeLines<L>(
  scopes: readonly RevocationScope[],
  keyring: Keyring,
  newLine: (kid: string) => L,
): { lines: Map<string, L>; speakers: Map<string, L[]> } {
  if (!Array.isArray(scopes)) throw new InvalidArgumentError('revocation scopes must be an array of {signer, covers}');
  const lines = new Map<string, L>();
  const speakers = new Map<string, L[]>();
  for (const s of scopes) {
    if (!s || !Array.isArray(s.covers)) throw new InvalidArgumentError('a revocation scope is {signer, covers: [keys]}');
    const signer = kidOf(s.signer);
    if (!keyring.get(Buffer.from(signer, 'base64url'))) throw new InvalidArgumentError(`revocation scope signer ${signer} is not a trusted key`);
    if (lines.has(signer)) throw new InvalidArgumentError(`revocation scope signer ${signer} is listed twice`);
    const line = newLine(signer);
    lines.set(signer, line);
    for (const c of s.covers) {
      const root = kidOf(c);
      const list = speakers.get(root) ?? [];
      if (!list.includes(line)) list.push(line);
      speakers.set(root, list);
    }
  }
  return { lines, speakers };
}

export class RevocationState implements RevocationCheck {
  readonly keyring: Keyring;
  readonly maxAge: number;
  readonly skew: number;
  readonly failOpen: boolean;
  readonly #clock: Clock;
  readonly #backend: Ed25519Backend | undefined;
  readonly #warn: (message: string) => void;
  /** Version lines by signer kid; only signers with a scope are here when scopes are configured. */
  readonly #lines = new Map<string, Line>();
  /** Root kid -> the lines that speak for chains rooted in it (scoped mode); undefined: each trusted key speaks for itself. */
  readonly #speakers: Map<string, readonly Line[]> | undefined;
  /** Default mode: each signer's line as the one speaker for its own chains (no allocation per check). */
  readonly #own = new Map<string, readonly Line[]>();
  /** Bumped on every install: invalidates every remembered answer. */
  #generation = 0;
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
    if (options.scopes !== undefined) {
      const { lines, speakers } = scopeLines(options.scopes, this.keyring, newLine);
      for (const [k, l] of lines) this.#lines.set(k, l);
      this.#speakers = speakers;
    }
    if (this.failOpen) this.#warn('capframe: WARNING revocation is configured to FAIL OPEN: stale revocation data will not block calls');
  }

  /**
   * Version of the held snapshot when one authority signs them all (the usual
   * case), the highest held version with several, -1 before the first one.
   * Use versionOf(kid) to ask about one authority.
   */
  get version(): number {
    let v = -1;
    for (const l of this.#lines.values()) if (l.version > v) v = l.version;
    return v;
  }

  /** Version held from the authority key `kid` (base64url), or -1. */
  versionOf(kid: string): number {
    return this.#lines.get(kid)?.version ?? -1;
  }

  /** When the held snapshots were signed (unix seconds): the oldest iat among the authorities held, or -1. */
  get issuedAt(): number {
    let iat = -1;
    for (const l of this.#lines.values()) if (l.version >= 0 && (iat < 0 || l.iat < iat)) iat = l.iat;
    return iat;
  }

  /** When the held snapshot of authority `kid` was signed, or -1. */
  issuedAtOf(kid: string): number {
    const l = this.#lines.get(kid);
    return l !== undefined && l.version >= 0 ? l.iat : -1;
  }

  /** Number of revoked ids in the held snapshots (summed over authorities). */
  get size(): number {
    let n = 0;
    for (const l of this.#lines.values()) n += l.ids.length / ID_BYTES;
    return n;
  }

  /** Calls `fn` after every installed or refreshed snapshot; returns an unsubscribe function. */
  onUpdate(fn: (r: UpdateResult) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Verifies a snapshot and installs it if it is newer than the one held from
   * the same signer. Throws ERR_UNKNOWN_KEY / ERR_SIGNATURE_INVALID /
   * ERR_MALFORMED / ERR_NOT_YET_VALID for a bad snapshot (ERR_UNKNOWN_KEY also
   * for a trusted key that no scope names as a signer) and
   * ERR_REVOCATION_ROLLBACK for an older version of that signer; everything
   * held is unchanged then.
   */
  update(input: string | Uint8Array): UpdateResult {
    const now = this.#clock();
    const snap = parseSnapshot(input, this.keyring, { now, skew: this.skew, ...(this.#backend ? { backend: this.#backend } : {}) });
    return this.#install(snap);
  }

  /**
   * Verifies a signed delta (§10.10) and applies it to the line of its signer
   * when it starts at the held version: 'installed' (new version),
   * 'refreshed' (a refresh delta with a newer iat), 'ignored' (already
   * covered), or 'gap' (nothing held for that signer, or the delta starts
   * elsewhere: fetch a full snapshot). Throws as update() for a bad delta.
   */
  applyDelta(input: string | Uint8Array): UpdateResult {
    const now = this.#clock();
    const d = parseDelta(input, this.keyring, { now, skew: this.skew, ...(this.#backend ? { backend: this.#backend } : {}) });
    const line = this.#line(d.kid, 'delta');
    if (line.version < 0) return { outcome: 'gap', version: -1, kid: d.kid };
    if (d.version < line.version || (d.version === line.version && d.from < line.version)) {
      return { outcome: 'ignored', version: line.version, kid: d.kid };
    }
    if (d.from !== line.version) return { outcome: 'gap', version: line.version, kid: d.kid };
    let result: UpdateResult;
    if (d.version === d.from) {
      if (d.iat <= line.iat) return { outcome: 'ignored', version: line.version, kid: d.kid };
      line.iat = d.iat;
      result = { outcome: 'refreshed', version: line.version, kid: d.kid };
    } else {
      if (d.ids.length > 0) line.ids = mergeIds(line.ids, d.ids);
      if (d.subjects.length > 0) {
        const subjects = new Set(line.subjects);
        for (const s of d.subjects) subjects.add(s);
        line.subjects = subjects;
      }
      if (d.cutoffs.length > 0) {
        const cutoffs = new Map(line.cutoffs);
        for (const c of d.cutoffs) {
          const k = kidToString(c.kid);
          if ((cutoffs.get(k) ?? -1) < c.before) cutoffs.set(k, c.before);
        }
        line.cutoffs = cutoffs;
      }
      line.version = d.version;
      // A delta is as fresh as its signature, never fresher than what is held.
      if (d.iat > line.iat) line.iat = d.iat;
      this.#generation++;
      result = { outcome: 'installed', version: line.version, kid: d.kid };
    }
    for (const fn of this.#listeners) fn(result);
    return result;
  }

  /** Installs an already verified snapshot (parseSnapshot with this state's keyring). */
  #line(kid: string, what: string): Line {
    let line = this.#lines.get(kid);
    if (line === undefined) {
      if (this.#speakers !== undefined) throw new UnknownKeyError(`revocation ${what} signer ${kid} is trusted but no revocation scope names it as a signer`);
      line = newLine(kid);
      this.#lines.set(kid, line);
      this.#own.set(kid, [line]);
    }
    return line;
  }

  #install(snap: ParsedSnapshot): UpdateResult {
    const line = this.#line(snap.kid, 'snapshot');
    const step = versionStep(line, snap, 'snapshot');
    if (step === 'ignored') return { outcome: 'ignored', version: snap.version, kid: snap.kid };
    let result: UpdateResult;
    if (step === 'refreshed') {
      // Same revocations, newer signature time: a freshness proof. Cached answers stay valid.
      line.iat = snap.iat;
      result = { outcome: 'refreshed', version: snap.version, kid: snap.kid };
    } else {
      line.version = snap.version;
      line.ids = snap.ids;
      line.iat = snap.iat;
      line.subjects = new Set(snap.subjects);
      line.cutoffs = new Map(snap.cutoffs.map((c) => [kidToString(c.kid), c.before]));
      this.#generation++;
      result = { outcome: 'installed', version: snap.version, kid: snap.kid };
    }
    for (const fn of this.#listeners) fn(result);
    return result;
  }

  /** The version lines that speak for chains rooted in `kid`. */
  #speakersOf(kid: string): readonly Line[] {
    if (this.#speakers !== undefined) return this.#speakers.get(kid) ?? NONE;
    return this.#own.get(kid) ?? NONE;
  }

  /** RevocationCheck: throws ERR_REVOKED or ERR_REVOCATION_STALE. */
  check(chain: Chain, now: number): void {
    const lines = this.#speakersOf(chain.kid);
    let usable = lines.length > 0;
    for (let i = 0; i < lines.length && usable; i++) {
      const l = lines[i]!;
      if (l.version < 0 || now > l.iat + this.maxAge + this.skew) usable = false;
    }
    if (!usable) {
      const why = this.#staleReason(chain.kid, lines, now);
      if (!this.failOpen) throw new RevocationStaleError(why);
      this.#warn(`capframe: WARNING revocation FAIL-OPEN: ${why}; allowing chain ${chain.ids[chain.ids.length - 1]} without current revocation data`);
    }
    const generation = this.#generation;
    const hit = this.#cache.get(chain);
    if (hit !== undefined && hit.generation === generation) {
      if (hit.reason !== null) throw new RevokedError(hit.reason);
      return;
    }
    let reason: string | null = null;
    for (let i = 0; i < lines.length && reason === null; i++) {
      const l = lines[i]!;
      // Even when failing open a held (stale) snapshot is applied.
      if (l.version >= 0) reason = revokedBecause(l, chain);
    }
    this.#cache.set(chain, { generation, reason });
    if (reason !== null) throw new RevokedError(reason);
  }

  #staleReason(kid: string, lines: readonly Line[], now: number): string {
    if (lines.length === 0) {
      return this.#speakers !== undefined
        ? `no revocation scope covers authority key ${kid}`
        : `no revocation snapshot of authority key ${kid} has been loaded yet`;
    }
    for (const l of lines) {
      if (l.version < 0) return `no revocation snapshot of authority key ${l.kid} has been loaded yet`;
      if (now > l.iat + this.maxAge + this.skew)
        return `revocation snapshot version ${l.version} of authority key ${l.kid} was signed ${now - l.iat}s ago (bound ${this.maxAge}s)`;
    }
    return 'revocation data is stale';
  }

  /** Exact answer for one id: listed in any held snapshot (whatever chains it speaks for). */
  isRevokedId(idHex: string): boolean {
    const id = hexId(idHex);
    if (id === undefined) return false;
    for (const l of this.#lines.values()) if (l.ids.length > 0 && containsId(l.ids, id)) return true;
    return false;
  }
}

const NONE: readonly Line[] = Object.freeze([]);

function newLine(kid: string): Line {
  return { kid, version: -1, iat: -1, ids: new Uint8Array(0), subjects: new Set(), cutoffs: new Map() };
}

function hexId(idHex: string): Uint8Array | undefined {
  const id = Buffer.from(idHex, 'hex');
  return id.length === ID_BYTES ? id : undefined;
}

function revokedBecause(l: Line, chain: Chain): string | null {
  const snap = l;
  if (snap.ids.length > 0) {
    for (let i = 0; i < chain.ids.length; i++) {
      const id = hexId(chain.ids[i]!);
      if (id !== undefined && containsId(snap.ids, id)) {
        return `${i === 0 ? 'root block' : `delegation block ${i}`} ${chain.ids[i]} is revoked (authority ${l.kid}, snapshot version ${snap.version})`;
      }
    }
  }
  if (l.subjects.size > 0) {
    for (let i = 0; i < chain.blocks.length; i++) {
      const s = chain.blocks[i]!.subject;
      if (l.subjects.has(s)) return `subject ${JSON.stringify(s)} (block ${i}) is revoked (authority ${l.kid}, snapshot version ${snap.version})`;
    }
  }
  const before = l.cutoffs.get(chain.kid);
  const iat = chain.blocks[0]?.iat;
  if (before !== undefined && iat !== undefined && iat < before) {
    return `tokens of authority key ${chain.kid} issued before ${new Date(before * 1000).toISOString()} are revoked (authority ${l.kid}, snapshot version ${snap.version})`;
  }
  return null;
}

function positive(v: number, name: string, zeroOk = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (zeroOk ? 0 : 1))
    throw new InvalidArgumentError(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds`);
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
