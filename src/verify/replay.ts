/**
 * Replay protection: each invocation identity (token tip, tool, operation,
 * resource, argument digest, call id) is accepted once until it expires.
 */
import { hash } from 'node:crypto';
import { CapframeError, InvalidArgumentError, UnavailableError } from '../errors.ts';

export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (unix seconds). Returns false if the key
   * was already recorded and has not expired. Must be atomic per key.
   */
  checkAndRecord(key: string, expiresAt: number, now: number): boolean | Promise<boolean>;
  /** True when what it records outlives the process (a restarted verifier still refuses a replay). */
  readonly persistent?: boolean;
  /** True when every verifier of a deployment can use the same store (each proof accepted once across all of them). */
  readonly shared?: boolean;
  /** Releases files or connections. */
  close?(): void | Promise<void>;
}

export const FINGERPRINT_LABEL = 'capframe-v1-replay\u0000';
const MIN_SLOTS = 1024;

function nextPow2(n: number): number {
  let p = MIN_SLOTS;
  while (p < n) p *= 2;
  return p;
}

/**
 * In-memory store, bounded. When full of live entries it refuses new ones
 * (ERR_UNAVAILABLE) rather than forget a live one: forgetting would let a
 * replay through. Size it for peak calls per second x (invocation window +
 * clock skew).
 *
 * Layout: an open-addressing hash table (linear probing) in one typed
 * array, five 32-bit words per slot: a 128-bit fingerprint of the key (the
 * first 16 bytes of SHA-256("capframe-v1-replay" 0x00 || key)) and its
 * expiry (unix seconds, rounded up). 20 bytes per slot and no object per
 * entry, so 500,000 live calls cost 20-40 MB and nothing for the garbage
 * collector (a Map of the key strings costs about 250 bytes per entry).
 * Two different keys are confused only if their fingerprints collide (about
 * 2^-128 per pair; finding such a pair on purpose takes about 2^64 SHA-256
 * computations), and a collision can only refuse a call as a replay, never
 * admit one.
 *
 * Expired entries are reclaimed lazily: an insert reuses the first expired
 * slot on its probe path, and the table is rebuilt without expired entries
 * (growing or shrinking to about three times the live count) when it is
 * half full or when the store reaches its capacity. A rebuild visits every
 * slot once: amortised O(1) per call, one pause of a few milliseconds per
 * few hundred thousand calls. A store that is full of live entries refuses
 * at once until the earliest of them can have expired (no rescan per call).
 * A store kept within a few entries of its capacity while entries also
 * expire rebuilds every few calls: give the capacity headroom (the sizing
 * rule above, with a margin).
 */
export class MemoryReplayStore implements ReplayStore {
  readonly capacity: number;
  /** fingerprint (4 words), expiry (1 word; 0 = never used) per slot. */
  #t: Uint32Array;
  #mask: number;
  /** Slots in use, live or expired. Never more than `capacity`, and below half the table. */
  #used = 0;
  /** No entry in the table expires before this (a lower bound): while now < #minExp, nothing can be reclaimed. */
  #minExp = Infinity;

  constructor(capacity = 200_000) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidArgumentError('replay capacity must be a non-negative integer');
    this.capacity = capacity;
    this.#t = new Uint32Array(5 * MIN_SLOTS);
    this.#mask = MIN_SLOTS - 1;
  }

  checkAndRecord(key: string, expiresAt: number, now: number): boolean {
    // A NaN would make every entry look expired (and a rebuild drop them all).
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new InvalidArgumentError('replay store: now must be a finite number of seconds');
    const h = hash('sha256', FINGERPRINT_LABEL + key, 'binary'); // 'binary' = latin1: one char per byte
    const a = (h.charCodeAt(0) | (h.charCodeAt(1) << 8) | (h.charCodeAt(2) << 16) | (h.charCodeAt(3) << 24)) >>> 0;
    const b = (h.charCodeAt(4) | (h.charCodeAt(5) << 8) | (h.charCodeAt(6) << 16) | (h.charCodeAt(7) << 24)) >>> 0;
    const c = (h.charCodeAt(8) | (h.charCodeAt(9) << 8) | (h.charCodeAt(10) << 16) | (h.charCodeAt(11) << 24)) >>> 0;
    const d = (h.charCodeAt(12) | (h.charCodeAt(13) << 8) | (h.charCodeAt(14) << 16) | (h.charCodeAt(15) << 24)) >>> 0;
    // 0 marks a free slot: an entry with expiresAt <= 0 (or NaN) is expired for
    // any now >= 0 and is not stored. Expiries are rounded up (kept longer, never shorter).
    let slot = this.#find(a, b, c, d, now);
    if (slot >= 0 && this.#t[5 * slot + 4]! > now) return false; // the same key, live: a replay
    if (!(expiresAt > 0)) return true;
    const e = expiresAt >= 0xffffffff ? 0xffffffff : Math.ceil(expiresAt);
    if (slot >= 0) {
      this.#t[5 * slot + 4] = e; // the same key, expired: used again, in place
      if (e < this.#minExp) this.#minExp = e;
      return true;
    }
    slot = -slot - 1;
    if (this.#t[5 * slot + 4] === 0) {
      // A new slot: keep below capacity and below half the table.
      if (this.#used >= this.capacity || 2 * (this.#used + 1) > this.#mask + 1) {
        // Full, and nothing has expired since the last look: refuse without scanning the table
        // again (so that a full store under load costs one scan per second, not one per call).
        if (this.#used >= this.capacity && now < this.#minExp) throw this.#full();
        this.#rebuild(now);
        if (this.#used >= this.capacity) throw this.#full();
        slot = -this.#find(a, b, c, d, now) - 1;
      }
      if (this.#t[5 * slot + 4] === 0) this.#used++;
    }
    const t = this.#t;
    const i = 5 * slot;
    t[i] = a;
    t[i + 1] = b;
    t[i + 2] = c;
    t[i + 3] = d;
    t[i + 4] = e;
    if (e < this.#minExp) this.#minExp = e;
    return true;
  }

  #full(): CapframeError {
    return new UnavailableError(`replay cache is full (${this.capacity} live entries); refusing rather than forgetting`);
  }

  /**
   * The slot holding this fingerprint (>= 0), or -(slot + 1) for where to put
   * it: the first expired slot on its probe path, else the free slot that
   * ends the path.
   */
  #find(a: number, b: number, c: number, d: number, now: number): number {
    const t = this.#t;
    const mask = this.#mask;
    let reuse = -1;
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const i = 5 * s;
      const e = t[i + 4]!;
      if (e === 0) return -((reuse >= 0 ? reuse : s) + 1);
      if (t[i] === a && t[i + 1] === b && t[i + 2] === c && t[i + 3] === d) return s;
      if (reuse < 0 && e <= now) reuse = s;
    }
  }

  /** Rebuilds the table with the live entries only, sized for about three times their number. */
  #rebuild(now: number): void {
    const old = this.#t;
    let live = 0;
    let minExp = Infinity;
    for (let i = 4; i < old.length; i += 5) {
      const e = old[i]!;
      if (e > now) {
        live++;
        if (e < minExp) minExp = e;
      }
    }
    const slots = Math.min(nextPow2(3 * (live + 1)), nextPow2(2 * (this.capacity + 1)));
    const t = new Uint32Array(5 * slots);
    const mask = slots - 1;
    for (let o = 0; o < old.length; o += 5) {
      if (!(old[o + 4]! > now)) continue;
      let s = old[o]! & mask;
      while (t[5 * s + 4] !== 0) s = (s + 1) & mask;
      const i = 5 * s;
      t[i] = old[o]!;
      t[i + 1] = old[o + 1]!;
      t[i + 2] = old[o + 2]!;
      t[i + 3] = old[o + 3]!;
      t[i + 4] = old[o + 4]!;
    }
    this.#t = t;
    this.#mask = mask;
    this.#used = live;
    this.#minExp = minExp;
  }

  /** Entries held: the live ones and expired ones not reclaimed yet. */
  get size(): number {
    return this.#used;
  }

  clear(): void {
    this.#t = new Uint32Array(5 * MIN_SLOTS);
    this.#mask = MIN_SLOTS - 1;
    this.#used = 0;
    this.#minExp = Infinity;
  }
}
