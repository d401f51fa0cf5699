/**
 * Keeps an agent's short-lived token fresh: renews it from the authority
 * service in the background, before it expires (at `renewAt` of its lifetime,
 * jittered), retrying with jittered exponential backoff.
 *
 * `current()` is what a guard asks on every call: the token, synchronously,
 * while it is fresh (more than `margin` seconds left); otherwise it waits for
 * a renewal (starting one if none runs) for up to `waitMs`. So a call never
 * fails because the token expired while a renewal was possible. When renewal
 * fails and the token has expired, calls fail closed: ERR_UNAVAILABLE
 * ("expired and the authority is unreachable"), or ERR_REVOKED once the
 * authority has refused the agent (disenrolled), which also stops renewing.
 *
 *   const renewer = new TokenRenewer({ client, holderKey, profile: 'support' });
 *   await renewer.start();
 *   agent.invoke(input, { configurable: { capframe: { token: renewer, holderKey } } });
 */
import type { PrivateKey } from '../crypto/keys.ts';
import { CapframeError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Token } from '../token/token.ts';
import { AuthorityClient, type ObtainedToken } from './authority-client.ts';

/** Anything that hands out the current token: a guard or an MCP client asks it on every call. */
export interface TokenSource {
  /** The current token, synchronously when fresh; else a promise (rejects with a CapframeError when none can be had). */
  current(): Token | Promise<Token>;
}

export function isTokenSource(x: unknown): x is TokenSource {
  return typeof x === 'object' && x !== null && typeof (x as { current?: unknown }).current === 'function' && !('blocks' in x);
}

export interface TokenRenewerOptions {
  /** The authority client (may be shared by many renewers), or `url` + `audience` for a private one. */
  client?: AuthorityClient;
  url?: string;
  audience?: string;
  holderKey: PrivateKey;
  profile: string;
  /** Ask for a shorter lifetime than the profile's, seconds. */
  ttl?: number;
  /** Renew when this fraction of the lifetime has passed. Default 0.5 (0.1 to 0.9). */
  renewAt?: number;
  /** Random spread of the renewal time, as a fraction of the lifetime. Default 0.1. */
  jitter?: number;
  /** Seconds before expiry at which a token no longer counts as fresh. Default 1. */
  margin?: number;
  /** First retry delay after a failed renewal, ms (doubles per failure, jittered). Default 250. */
  minBackoffMs?: number;
  /** Longest retry delay, ms. Default 30 000. */
  maxBackoffMs?: number;
  /** How long a call waits for a renewal when the token is not fresh, ms. Default: the client's timeout. */
  waitMs?: number;
  /** Unix seconds: decides freshness. Renewals are scheduled on the event loop's timers. */
  clock?: Clock;
  /** Renewal failures. Default: none (the error is kept and surfaces in calls). An exception it throws is ignored. */
  onError?: (e: CapframeError) => void;
  /** Each new token. An exception it throws is ignored. */
  onRenew?: (t: ObtainedToken) => void;
  /** For tests: [0, 1). */
  random?: () => number;
}

/** A callback for logs and metrics: it cannot change the renewal (a throw would skip the refusal, the backoff and the next renewal). */
function callback<T>(f: ((x: T) => void) | undefined, x: T): void {
  try {
    f?.(x);
  } catch {
    // ignored: see above
  }
}

export class TokenRenewer implements TokenSource {
  readonly client: AuthorityClient;
  readonly #own: boolean;
  readonly #o: TokenRenewerOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #renewAt: number;
  readonly #jitter: number;
  readonly #margin: number;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #waitMs: number;
  #held: ObtainedToken | undefined;
  #inflight: Promise<ObtainedToken> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastError: CapframeError | undefined;
  #refused: CapframeError | undefined;
  /** After a failure: when the next attempt is due (ms); calls before then do not hammer the authority. */
  #retryAt = 0;
  #closed = false;
  /** Renewals that succeeded (the first token included). */
  renewals = 0;

  constructor(o: TokenRenewerOptions) {
    if (!o || !o.holderKey || o.holderKey.kind !== 'private') throw new InvalidArgumentError('TokenRenewer needs the holder private key');
    if (typeof o.profile !== 'string' || o.profile.length === 0) throw new InvalidArgumentError('TokenRenewer needs a profile');
    if (o.client) {
      this.client = o.client;
      this.#own = false;
    } else {
      if (typeof o.url !== 'string' || typeof o.audience !== 'string') throw new InvalidArgumentError('TokenRenewer needs a client, or url and audience');
      this.client = new AuthorityClient({ url: o.url, audience: o.audience });
      this.#own = true;
    }
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#random = o.random ?? Math.random;
    this.#renewAt = o.renewAt ?? 0.5;
    if (!(this.#renewAt >= 0.1 && this.#renewAt <= 0.9)) throw new InvalidArgumentError('renewAt is a fraction from 0.1 to 0.9');
    this.#jitter = o.jitter ?? 0.1;
    if (!(this.#jitter >= 0 && this.#jitter <= 0.4)) throw new InvalidArgumentError('jitter is a fraction from 0 to 0.4');
    this.#margin = o.margin ?? 1;
    this.#minBackoff = o.minBackoffMs ?? 250;
    this.#maxBackoff = o.maxBackoffMs ?? 30_000;
    this.#waitMs = o.waitMs ?? this.client.timeout;
  }

  /** Gets the first token. Rejects when it cannot (the caller may retry); renewal then runs on its own. */
  async start(): Promise<Token> {
    return (await this.#renew()).token;
  }

  /** The token held, fresh or not (undefined before the first one). */
  get held(): ObtainedToken | undefined {
    return this.#held;
  }

  /** The last renewal error, cleared by a success. */
  get lastError(): CapframeError | undefined {
    return this.#lastError;
  }

  current(): Token | Promise<Token> {
    const h = this.#held;
    if (h && this.#clock() < h.expiresAt - this.#margin) return h.token;
    return this.#wait();
  }

  async #wait(): Promise<Token> {
    if (this.#closed) throw new UnavailableError('the token renewer is closed');
    const fail = (): never => {
      const h = this.#held;
      if (this.#refused) throw this.#refused;
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      throw new UnavailableError(
        h
          ? `the capframe token expired at ${new Date(h.expiresAt * 1000).toISOString()} and could not be renewed${why}`
          : `no capframe token could be obtained${why}`,
      );
    };
    if (this.#refused) {
      const h = this.#held;
      if (h && this.#clock() < h.expiresAt) return h.token;
      fail();
    }
    if (!this.#inflight && this.#failures > 0 && Date.now() < this.#retryAt) {
      const h = this.#held;
      if (h && this.#clock() < h.expiresAt) return h.token;
      fail();
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const renewal = this.#renew();
      const got = await Promise.race([
        renewal.then(
          (t) => t,
          () => undefined,
        ),
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), this.#waitMs);
        }),
      ]);
      if (got) return got.token;
    } finally {
      clearTimeout(timer);
    }
    // No new token in time: the old one while it has not expired, else closed.
    const h = this.#held;
    if (h && this.#clock() < h.expiresAt) return h.token;
    return fail();
  }

  /** One renewal (joins the one in flight). */
  #renew(): Promise<ObtainedToken> {
    if (this.#inflight) return this.#inflight;
    if (this.#closed) return Promise.reject(new UnavailableError('the token renewer is closed'));
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = this.client.obtain({ holderKey: this.#o.holderKey, profile: this.#o.profile, ...(this.#o.ttl !== undefined ? { ttl: this.#o.ttl } : {}) }).then(
      (t) => {
        this.#inflight = undefined;
        this.#held = t;
        this.#failures = 0;
        this.#lastError = undefined;
        this.renewals++;
        callback(this.#o.onRenew, t);
        this.#schedule(this.#nextRenewalMs(t));
        return t;
      },
      (e: unknown) => {
        this.#inflight = undefined;
        const err = toCapframeError(e, 'ERR_UNAVAILABLE');
        this.#lastError = err;
        this.#failures++;
        callback(this.#o.onError, err);
        // Disenrolled: the authority will not renew; stop asking.
        if (err.code === 'ERR_REVOKED') this.#refused = err;
        else {
          const d = this.#backoffMs();
          this.#retryAt = Date.now() + d;
          this.#schedule(d);
        }
        throw err;
      },
    );
    this.#inflight = p;
    // A background renewal's failure is kept in lastError; nobody awaits it.
    p.catch(() => {});
    return p;
  }

  #nextRenewalMs(t: ObtainedToken): number {
    const now = this.#clock();
    const lifetime = Math.max(0, t.expiresAt - now);
    const spread = (this.#random() * 2 - 1) * this.#jitter;
    // Never later than the margin before expiry.
    return Math.max(0, Math.min(lifetime * (this.#renewAt + spread), lifetime - this.#margin) * 1000);
  }

  #backoffMs(): number {
    const base = Math.min(this.#maxBackoff, this.#minBackoff * 2 ** Math.min(this.#failures - 1, 20));
    let d = base * (0.5 + this.#random() * 0.5);
    // While the token still works, retry often enough to renew before it expires.
    const h = this.#held;
    if (h) {
      const left = (h.expiresAt - this.#margin - this.#clock()) * 1000;
      if (left > 0) d = Math.min(d, Math.max(this.#minBackoff, left / 4));
    }
    return d;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#renew().catch(() => {});
    }, ms);
    // A renewer never keeps a process alive on its own.
    this.#timer.unref();
  }

  /** Stops renewing (and closes a private client). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#own) await this.client.close();
  }
}
