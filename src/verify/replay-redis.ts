/**
 * Replay store in Redis, shared by any number of verifiers: a proof is
 * accepted once across all of them. Each claim is `SET key 1 NX PX ttl`,
 * atomic in Redis; the key is the prefix and the hex 128-bit fingerprint of
 * the replay identity (never the identity's text), kept until the proof can
 * no longer be accepted anywhere (its expiry plus the skew).
 *
 * Claims made in the same turn of the event loop (the calls of one batch
 * request) go out as one pipeline: one write and one round trip for a batch
 * of 32. Every flush has a deadline (`timeout`, default 1 s): Redis down,
 * reconnecting (no offline queue) or slower than that, and the claims of the
 * flush fail with ERR_UNAVAILABLE, so the calls are denied, never allowed. A
 * claim that reached Redis after its deadline has recorded the key: that
 * proof stays refused (fail closed).
 *
 * The same store keeps the counters of rate limits and budgets (§14): one
 * Lua script (EVALSHA, see ./limit-redis.ts) charges every limited block of
 * a call's chain, all or nothing, in one round trip, queued in the same
 * pipelines and under the same deadline as the claims.
 *
 * The client is node-redis's core (`@redis/client`: the official client,
 * types included, no dependencies of its own), an optional peer loaded only
 * when a Redis store is configured.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { FINGERPRINT_LABEL, type ReplayStore } from './replay.ts';
import type { LimitCharge, LimitStore } from './limits.ts';
import { limitCommand, limitReply, LIMIT_SCRIPT_SHA, LIMIT_SCRIPT } from './limit-redis.ts';

export interface RedisReplayStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  readonly url: string;
  /** Prefix of every key. Default `capframe:replay:`. */
  readonly prefix?: string;
  /** Prefix of the limit counters (§14). Default `capframe:limit:`, or `PREFIX` + `limit:` when `prefix` is given. */
  readonly limitPrefix?: string;
  /** Deadline of one claim (one pipeline), ms. Default 1000. */
  readonly timeout?: number;
}

interface Client {
  readonly isReady: boolean;
  on(event: 'error', f: (e: unknown) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  destroy(): void;
  close(): Promise<void>;
}
type CreateClient = (o: Record<string, unknown>) => Client;

function loadRedis(): { createClient: CreateClient; ErrorReply: new (...a: never[]) => Error } {
  try {
    return createRequire(import.meta.url)('@redis/client') as { createClient: CreateClient; ErrorReply: new (...a: never[]) => Error };
  } catch (e) {
    throw new ConfigError(`a Redis replay store needs the package @redis/client (npm install @redis/client): ${(e as Error).message}`, { cause: e });
  }
}

/** One command of a pipeline: a replay claim or a limit charge. */
interface Claim {
  args: string[];
  /** The same command by script text, when the server does not hold the script (NOSCRIPT). */
  fallback?: string[];
  resolve(reply: unknown): void;
  reject(e: unknown): void;
}

const isNoScript = (r: unknown) => r instanceof Error && /^NOSCRIPT/.test(r.message);

export class RedisReplayStore implements ReplayStore, LimitStore {
  readonly persistent = true;
  readonly shared = true;
  readonly prefix: string;
  readonly limitPrefix: string;
  readonly timeout: number;
  readonly #client: Client;
  readonly #ready: Promise<void>;
  /** The client's class of error replies (the server answered with an error). */
  readonly #ErrorReply: new (...a: never[]) => Error;
  #queue: Claim[] = [];
  #closed = false;
  /** Round trips made (one per flush): lets a test see that a batch costs one. */
  flushes = 0;

  constructor(o: RedisReplayStoreOptions) {
    if (!o || typeof o.url !== 'string' || !/^rediss?:\/\//.test(o.url))
      throw new InvalidArgumentError('a Redis replay store needs a redis:// or rediss:// url');
    const timeout = o.timeout ?? 1000;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 60_000) throw new InvalidArgumentError('the Redis replay timeout must be 1 to 60000 ms');
    this.timeout = timeout;
    this.prefix = o.prefix ?? 'capframe:replay:';
    this.limitPrefix = o.limitPrefix ?? (o.prefix !== undefined ? o.prefix + 'limit:' : 'capframe:limit:');
    const { createClient, ErrorReply } = loadRedis();
    this.#ErrorReply = ErrorReply;
    this.#client = createClient({
      url: o.url,
      // While reconnecting, commands fail at once instead of waiting in a queue: a denial now, not an allow later.
      disableOfflineQueue: true,
      socket: { connectTimeout: Math.max(timeout, 1000), reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 1000) },
    });
    // Connection errors are answered per claim (ERR_UNAVAILABLE); they must never end the process.
    this.#client.on('error', () => {});
    // Once connected, the idle connection never keeps the process alive (a Guard has no close());
    // a claim in flight does, through its deadline timer.
    this.#ready = this.#client.connect().then(() => {
      (this.#client as Client & { unref?: () => void }).unref?.();
    });
    this.#ready.catch(() => {});
  }

  /** Resolves once connected (rejects if the first connection fails). */
  ready(): Promise<void> {
    return this.#ready;
  }

  checkAndRecord(key: string, expiresAt: number, now: number): Promise<boolean> {
    if (typeof now !== 'number' || !Number.isFinite(now))
      return Promise.reject(new InvalidArgumentError('replay store: now must be a finite number of seconds'));
    if (this.#closed) return Promise.reject(new UnavailableError('the replay store is closed'));
    const fp = createHash('sha256')
      .update(FINGERPRINT_LABEL + key)
      .digest('hex')
      .slice(0, 32);
    // At least 1 ms: an already expired entry still asks Redis whether the key is live.
    const ttl = Math.max(1, Math.ceil((expiresAt - now) * 1000));
    return new Promise<unknown>((resolve, reject) => {
      this.#push({ args: ['SET', this.prefix + fp, '1', 'NX', 'PX', String(Number.isFinite(ttl) ? ttl : 1)], resolve, reject });
    }).then((reply) => reply === 'OK'); // 'OK' = newly recorded; null = the key is live (a replay). Anything else is refused.
  }

  /** Charges every counter or none (§14), in one EVALSHA. */
  chargeLimits(charges: readonly LimitCharge[], now: number): Promise<number> {
    if (typeof now !== 'number' || !Number.isFinite(now))
      return Promise.reject(new InvalidArgumentError('limit store: now must be a finite number of seconds'));
    if (this.#closed) return Promise.reject(new UnavailableError('the limit store is closed'));
    if (charges.length === 0) return Promise.resolve(-1);
    const { sha, script } = limitCommand(charges, now, this.limitPrefix);
    return new Promise<unknown>((resolve, reject) => {
      this.#push({ args: ['EVALSHA', LIMIT_SCRIPT_SHA, ...sha], fallback: ['EVAL', LIMIT_SCRIPT, ...script], resolve, reject });
    }).then(limitReply);
  }

  #push(c: Claim): void {
    if (this.#queue.length === 0) queueMicrotask(() => this.#flush());
    this.#queue.push(c);
  }

  #flush(): void {
    const claims = this.#queue;
    this.#queue = [];
    if (claims.length === 0) return;
    this.flushes++;
    let done = false;
    const fail = (message: string, cause?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const e = new UnavailableError(`replay store (Redis): ${message}; call denied`, cause !== undefined ? { cause } : undefined);
      for (const c of claims) c.reject(e);
    };
    const timer = setTimeout(() => fail(`no answer within ${this.timeout} ms`), this.timeout);
    // Commands sent in one turn of the event loop go out in one write (node-redis pipelines them):
    // one round trip, and each command keeps its own reply (a failing one, e.g. NOSCRIPT, fails alone).
    const send = (): Promise<unknown[]> =>
      Promise.allSettled(claims.map((c) => this.#client.sendCommand(c.args))).then((rs) => {
        // Nothing answered at all (connection lost): the whole flush fails.
        if (rs.every((r) => r.status === 'rejected' && !(r.reason instanceof this.#ErrorReply))) throw (rs[0] as PromiseRejectedResult).reason;
        return rs.map((r) => (r.status === 'fulfilled' ? r.value : r.reason instanceof Error ? r.reason : new Error(String(r.reason))));
      });
    // new Promise(): a synchronous throw of the client (e.g. closed meanwhile) becomes a denial, not an uncaught exception.
    (this.#client.isReady
      ? new Promise<unknown[]>((r) => r(send()))
      : this.#ready.then(() => {
          if (!this.#client.isReady) throw new Error('not connected');
          return send();
        })
    ).then(
      (replies) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        claims.forEach((c, i) => {
          const r = replies[i];
          // The server lost the script (restarted, SCRIPT FLUSH): it ran nothing; send it by text (which loads it again).
          if (isNoScript(r) && c.fallback) this.#push({ args: c.fallback, resolve: c.resolve, reject: c.reject });
          else if (r instanceof Error) c.reject(new UnavailableError(`replay store (Redis): ${r.message}; call denied`, { cause: r }));
          else c.resolve(r);
        });
      },
      (e: unknown) => fail((e as Error)?.message ?? String(e), e),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#client.isReady) await this.#client.close();
      else this.#client.destroy();
    } catch {
      this.#client.destroy();
    }
  }
}
