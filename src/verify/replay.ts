/**
 * Replay protection: each invocation identity (token tip, tool, operation,
 * resource, argument digest, call id) is accepted once until it expires.
 */
import { CapframeError } from '../errors.ts';

export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (unix seconds). Returns false if the key
   * was already recorded and has not expired. Must be atomic per key.
   */
  checkAndRecord(key: string, expiresAt: number, now: number): boolean | Promise<boolean>;
}

/**
 * In-memory store, bounded. Entries leave once expired. When full of live
 * entries it refuses new ones (ERR_UNAVAILABLE) rather than forget a live
 * one: forgetting would let a replay through. Size it for
 * peak calls per second x (invocation window + clock skew).
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen = new Map<string, number>();
  /** Expiry of the oldest-inserted entry: nothing needs sweeping before then. */
  #headExp = Infinity;
  readonly capacity: number;
  constructor(capacity = 200_000) {
    this.capacity = capacity;
  }
  checkAndRecord(key: string, expiresAt: number, now: number): boolean {
    const prev = this.#seen.get(key);
    if (prev !== undefined) {
      if (prev > now) return false;
      this.#seen.delete(key);
    }
    if (now >= this.#headExp) this.#sweep(now, 64);
    if (this.#seen.size >= this.capacity) {
      // Entries are swept oldest-inserted first; a long-lived head can hide expired
      // entries behind it. Before refusing, look at every entry once.
      this.#sweepAll(now);
      if (this.#seen.size >= this.capacity) {
        throw new CapframeError('ERR_UNAVAILABLE', `replay cache is full (${this.capacity} live entries); refusing rather than forgetting`);
      }
    }
    this.#seen.set(key, expiresAt);
    if (this.#seen.size === 1) this.#headExp = expiresAt;
    return true;
  }
  /** Drops expired entries from the oldest end; amortised O(1) per call. */
  #sweep(now: number, budget: number): void {
    for (const [k, exp] of this.#seen) {
      if (exp > now || budget-- === 0) break;
      this.#seen.delete(k);
    }
    this.#resetHead();
  }
  #sweepAll(now: number): void {
    for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k);
    this.#resetHead();
  }
  #resetHead(): void {
    const first = this.#seen.values().next();
    this.#headExp = first.done ? Infinity : first.value;
  }
  get size(): number {
    return this.#seen.size;
  }
  clear(): void {
    this.#seen.clear();
    this.#headExp = Infinity;
  }
}
