/**
 * Counters of rate limits and budgets (docs/spec.md §14): the store
 * interface, and the in-memory store for one process.
 *
 * A call is charged to every limited grant that authorised it along its
 * chain, all or nothing: the store adds each amount to its counter only if
 * no counter would pass its limit, atomically for the whole set.
 */
import { InvalidArgumentError, UnavailableError } from '../errors.ts';

/** One counter to charge. */
export interface LimitCharge {
  /** Counter identity (§14.3): `ROOTID:BLOCKID:GRANT:KIND:WINDOW`. */
  readonly key: string;
  /** Largest value the counter may reach: calls, or budget units of 10^-18. */
  readonly limit: bigint;
  /** What this call adds: 1, or the budget amount in units. */
  readonly amount: bigint;
  /** When the counter may be forgotten (unix seconds): its window's end plus the clock skew. */
  readonly expiresAt: number;
}

export interface LimitStore {
  /**
   * Adds every charge's amount to its counter, or none of them: returns -1
   * when all were charged, else the index of the first charge that would
   * pass its limit (nothing charged). Atomic for the whole set. Throws or
   * rejects (ERR_UNAVAILABLE) when it cannot answer: the call is denied.
   */
  chargeLimits(charges: readonly LimitCharge[], now: number): number | Promise<number>;
}

/** Does this (replay) store also keep limit counters? */
export function isLimitStore(s: unknown): s is LimitStore {
  return typeof (s as { chargeLimits?: unknown } | null)?.chargeLimits === 'function';
}

/**
 * Counters in a Map, for one process. Bounded: when it holds `capacity`
 * live counters it refuses new ones (ERR_UNAVAILABLE) rather than forget a
 * live one (forgetting would reset a limit). Expired counters are dropped
 * when the map is full, and otherwise at most once per second of the clock.
 */
export class MemoryLimitStore implements LimitStore {
  readonly capacity: number;
  readonly #counters = new Map<string, { value: bigint; expiresAt: number }>();
  #nextSweep = 0;

  constructor(capacity = 100_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InvalidArgumentError('limit store capacity must be a positive integer');
    this.capacity = capacity;
  }

  chargeLimits(charges: readonly LimitCharge[], now: number): number {
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new InvalidArgumentError('limit store: now must be a finite number of seconds');
    const m = this.#counters;
    if (now >= this.#nextSweep && m.size > 0) this.#sweep(now);
    let fresh = 0;
    for (let i = 0; i < charges.length; i++) {
      const c = charges[i]!;
      const e = m.get(c.key);
      const live = e !== undefined && e.expiresAt > now;
      if (!live) fresh++;
      if ((live ? e.value : 0n) + c.amount > c.limit) return i;
    }
    if (fresh > 0 && m.size + fresh > this.capacity) {
      this.#sweep(now);
      if (m.size + fresh > this.capacity)
        throw new UnavailableError(`limit counters are full (${this.capacity} live counters); refusing rather than forgetting`);
    }
    for (const c of charges) {
      const e = m.get(c.key);
      if (e !== undefined && e.expiresAt > now) {
        e.value += c.amount;
        if (c.expiresAt > e.expiresAt) e.expiresAt = c.expiresAt;
      } else m.set(c.key, { value: c.amount, expiresAt: c.expiresAt });
    }
    return -1;
  }

  #sweep(now: number): void {
    this.#nextSweep = now + 1;
    for (const [k, e] of this.#counters) if (e.expiresAt <= now) this.#counters.delete(k);
  }

  /** Counters held (live, and expired ones not dropped yet). */
  get size(): number {
    return this.#counters.size;
  }

  clear(): void {
    this.#counters.clear();
  }
}
