/**
 * Console logins: the admin bearer secret is exchanged for a session cookie.
 * The session id is 32 random bytes; the table keys on its SHA-256 (a heap
 * dump does not hand out live sessions) and bounds both count and lifetime.
 * Each session has its own CSRF token, required on every state-changing POST.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { digest } from '../http.ts';

export interface ConsoleSession {
  readonly csrf: string;
  readonly expiresAt: number;
}

export class SessionStore {
  readonly #table = new Map<string, ConsoleSession>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(ttlMs: number, max: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  get size(): number {
    return this.#table.size;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** A new session: its cookie value and CSRF token. Past the cap, the oldest session ends. */
  create(): { id: string; session: ConsoleSession } {
    this.#sweep();
    while (this.#table.size >= this.#max) this.#table.delete(this.#table.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(32).toString('base64url'), expiresAt: this.#now() + this.#ttlMs };
    this.#table.set(key(id), session);
    return { id, session };
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const k = key(id);
    const s = this.#table.get(k);
    if (!s) return undefined;
    if (s.expiresAt <= this.#now()) {
      this.#table.delete(k);
      return undefined;
    }
    return s;
  }

  /** Ends the session of this cookie value; returns it (its streams are closed with it). */
  end(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const k = key(id);
    const s = this.#table.get(k);
    this.#table.delete(k);
    return s;
  }

  /** Whether `s` is still a live session (not ended, expired or pushed out by newer ones). */
  isLive(s: ConsoleSession): boolean {
    if (s.expiresAt <= this.#now()) return false;
    for (const t of this.#table.values()) if (t === s) return true;
    return false;
  }

  clear(): void {
    this.#table.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, s] of this.#table) if (s.expiresAt <= now) this.#table.delete(k);
  }
}

function key(id: string): string {
  return digest(id).toString('hex');
}

/** Constant-time comparison of two strings of any length (compared as digests). */
export function sameSecret(given: string, expected: Buffer | null): boolean {
  const d = digest(given);
  return expected !== null && timingSafeEqual(d, expected);
}

export function sameToken(a: string | undefined, b: string): boolean {
  return typeof a === 'string' && timingSafeEqual(digest(a), digest(b));
}
