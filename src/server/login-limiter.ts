import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.ts';
import { checkBearer, send } from './http.ts';

/**
 * Guesses of the admin secret (console logins, POST /v1/revoke): at most
 * `perAddress` failures per client address and window, one attempt in flight
 * per address. An attempt counts as a failure from the moment it starts
 * (before its body is read) and is given back only when it succeeds, so
 * requests sent together cannot all pass the check before any is counted.
 * Past `total` failures in the window over all addresses, only addresses
 * without a failure of their own may still try: many failing addresses stop
 * each other, but cannot lock a clean address (the admin) out. Behind a
 * proxy every client has the proxy's address; see docs/operations.md.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, { n: number; since: number }>();
  readonly #inFlight = new Set<string>();
  #total = { n: 0, since: 0 };
  constructor(
    readonly perAddress: number,
    readonly total: number,
    readonly windowMs: number,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts an attempt. 0: it may go ahead, and it is counted as a failure
   * until `settle(address, true)`; the caller must settle it. Otherwise the
   * milliseconds to wait (nothing is counted).
   */
  begin(address: string): number {
    const now = this.now();
    if (this.#inFlight.has(address)) return 1000;
    let f = this.#failures.get(address);
    if (f && now - f.since >= this.windowMs) {
      this.#failures.delete(address);
      f = undefined;
    }
    if (f && f.n >= this.perAddress) return this.windowMs - (now - f.since);
    if (now - this.#total.since >= this.windowMs) this.#total = { n: 0, since: now };
    if (f && this.#total.n >= this.total) return this.windowMs - (now - this.#total.since);
    if (!f) {
      if (this.#failures.size >= 10_000) this.#failures.delete(this.#failures.keys().next().value!);
      f = { n: 0, since: now };
      this.#failures.set(address, f);
    }
    f.n++;
    this.#total.n++;
    this.#inFlight.add(address);
    return 0;
  }

  /** Ends an attempt begun with `begin`: a success clears the address's failures and gives its count back. */
  settle(address: string, ok: boolean): void {
    this.#inFlight.delete(address);
    if (!ok) return;
    if (this.#failures.delete(address) && this.#total.n > 0) this.#total.n--;
  }
}

/**
 * The admin bearer check of a route that also serves callers without the
 * secret (approvals, enrolments, disenrolment): a request that carries an
 * Authorization header is a guess and counts in `limiter` like a console
 * login; one without it guesses nothing. `undefined`: the address must wait,
 * and the 429 has been sent.
 */
export function limitedBearer(
  req: IncomingMessage,
  res: ServerResponse,
  secretDigest: Buffer | null,
  limiter: LoginLimiter,
  metrics: Metrics,
): boolean | undefined {
  if (req.headers.authorization === undefined) return false;
  const address = req.socket.remoteAddress ?? '?';
  const wait = limiter.begin(address);
  if (wait > 0) {
    tooManyGuesses(res, wait, metrics);
    return undefined;
  }
  const ok = checkBearer(req.headers.authorization, secretDigest);
  limiter.settle(address, ok);
  return ok;
}

/** The answer to an address that must wait `wait` ms before guessing the admin secret again. */
export function tooManyGuesses(res: ServerResponse, wait: number, metrics: Metrics): number {
  metrics.rejected('rate_limited');
  send(
    res,
    429,
    { code: 'ERR_LIMIT', reason: 'too many failed admin requests; try again later' },
    { 'retry-after': String(Math.ceil(wait / 1000)), connection: 'close' },
  );
  return 429;
}
