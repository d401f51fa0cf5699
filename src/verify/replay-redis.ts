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
 * The client is node-redis's core (`@redis/client`: the official client,
 * types included, no dependencies of its own), an optional peer loaded only
 * when a Redis store is configured.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { FINGERPRINT_LABEL, type ReplayStore } from './replay.ts';

export interface RedisReplayStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  readonly url: string;
  /** Prefix of every key. Default `capframe:replay:`. */
  readonly prefix?: string;
  /** Deadline of one claim (one pipeline), ms. Default 1000. */
  readonly timeout?: number;
}

interface Multi {
  addCommand(args: readonly string[]): Multi;
  execAsPipeline(): Promise<unknown[]>;
}
interface Client {
  readonly isReady: boolean;
  on(event: 'error', f: (e: unknown) => void): unknown;
  connect(): Promise<unknown>;
  multi(): Multi;
  destroy(): void;
  close(): Promise<void>;
}
type CreateClient = (o: Record<string, unknown>) => Client;

function loadRedis(): CreateClient {
  try {
    return (createRequire(import.meta.url)('@redis/client') as { createClient: CreateClient }).createClient;
  } catch (e) {
    throw new ConfigError(`a Redis replay store needs the package @redis/client (npm install @redis/client): ${(e as Error).message}`, { cause: e });
  }
}

interface Claim {
  key: string;
  ttl: number;
  resolve(fresh: boolean): void;
  reject(e: unknown): void;
}

export class RedisReplayStore implements ReplayStore {
  readonly persistent = true;
  readonly shared = true;
  readonly prefix: string;
  readonly timeout: number;
  readonly #client: Client;
  readonly #ready: Promise<void>;
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
    const createClient = loadRedis();
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
    return new Promise<boolean>((resolve, reject) => {
      if (this.#queue.length === 0) queueMicrotask(() => this.#flush());
      this.#queue.push({ key: this.prefix + fp, ttl: Number.isFinite(ttl) ? ttl : 1, resolve, reject });
    });
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
    const send = (): Promise<unknown[]> => {
      const m = this.#client.multi();
      for (const c of claims) m.addCommand(['SET', c.key, '1', 'NX', 'PX', String(c.ttl)]);
      return m.execAsPipeline();
    };
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
        // 'OK' = newly recorded; null = the key is live (a replay). Anything else is refused.
        claims.forEach((c, i) => c.resolve(replies[i] === 'OK'));
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
