/**
 * Replay store in a SQLite file: what a verifier accepted stays refused
 * after it restarts, and every process on the host that opens the same file
 * shares it. One statement per claim, atomic in SQLite:
 *
 *   INSERT … ON CONFLICT(fp) DO UPDATE SET exp = excluded.exp WHERE replay.exp <= now
 *
 * inserts a new key, or takes over an expired one; a live key changes no
 * row, which is a replay. Keys are stored as the same 128-bit fingerprint
 * the memory store uses (never the key text). WAL mode; `synchronous=NORMAL`
 * by default keeps every committed claim across a crash of the process
 * (kill -9), `fsync: true` also across a crash of the machine. Expired rows
 * are deleted in the background of claims, at most once per second.
 *
 * The same file keeps the counters of rate limits and budgets (§14): one
 * immediate transaction per call reads every counter of its chain and
 * writes them all, or none when one would pass its limit.
 *
 * Synchronous (better-sqlite3), so the verifier keeps its promise-free path.
 * A file locked by another writer for longer than `busyTimeout` ms is
 * ERR_UNAVAILABLE: the call is refused, never allowed.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { FINGERPRINT_LABEL, type ReplayStore } from './replay.ts';
import type { LimitCharge, LimitStore } from './limits.ts';

export interface SqliteReplayStoreOptions {
  /** The database file (created if absent). */
  readonly path: string;
  /** Wait this long for a lock held by another process, ms. Default 2000. */
  readonly busyTimeout?: number;
  /** Also survive a power loss (synchronous=FULL). Default false. */
  readonly fsync?: boolean;
}

type Statement = { run(...p: unknown[]): { changes: number }; get(...p: unknown[]): unknown };
type Db = {
  pragma(s: string): unknown;
  exec(s: string): unknown;
  prepare(s: string): Statement;
  transaction<F extends (...a: never[]) => unknown>(f: F): F & { immediate: F };
  close(): void;
};

/** better-sqlite3, loaded when a SQLite store is opened (ERR_CONFIG naming the package when it is not installed). */
export function loadBetterSqlite3(): new (path: string, o?: { timeout?: number }) => Db {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as new (path: string, o?: { timeout?: number }) => Db;
  } catch (e) {
    throw new ConfigError(`a SQLite replay store needs the package better-sqlite3 (npm install better-sqlite3): ${(e as Error).message}`, { cause: e });
  }
}

export class SqliteReplayStore implements ReplayStore, LimitStore {
  readonly persistent = true;
  readonly shared = true;
  readonly path: string;
  readonly #db: Db;
  readonly #claim: Statement;
  readonly #sweep: Statement;
  readonly #charge: (charges: readonly LimitCharge[], now: number) => number;
  #nextSweep = 0;
  #closed = false;

  constructor(o: SqliteReplayStoreOptions) {
    if (!o || typeof o.path !== 'string' || o.path === '') throw new InvalidArgumentError('a SQLite replay store needs a path');
    const busy = o.busyTimeout ?? 2000;
    if (!Number.isInteger(busy) || busy < 0 || busy > 60_000) throw new InvalidArgumentError('busyTimeout must be 0 to 60000 ms');
    this.path = o.path;
    const Database = loadBetterSqlite3();
    let db: Db;
    try {
      db = new Database(o.path, { timeout: busy });
    } catch (e) {
      throw new ConfigError(`cannot open the replay store ${o.path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      db.pragma(`busy_timeout = ${busy}`);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${o.fsync ? 'FULL' : 'NORMAL'}`);
      // Concurrent first starts: one immediate transaction each, so only one creates the table.
      db.transaction(() => {
        db.exec('CREATE TABLE IF NOT EXISTS replay (fp BLOB PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID');
        db.exec('CREATE INDEX IF NOT EXISTS replay_exp ON replay (exp)');
        db.exec('CREATE TABLE IF NOT EXISTS limits (key TEXT PRIMARY KEY, value TEXT NOT NULL, exp INTEGER NOT NULL) WITHOUT ROWID');
      }).immediate();
      const read = db.prepare('SELECT value FROM limits WHERE key = ? AND exp > ?');
      const write = db.prepare(
        'INSERT INTO limits (key, value, exp) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, exp = excluded.exp',
      );
      const sweepLimits = db.prepare('DELETE FROM limits WHERE exp <= ?');
      const charge = db.transaction((charges: readonly LimitCharge[], now: number): number => {
        const sums: bigint[] = [];
        for (let i = 0; i < charges.length; i++) {
          const c = charges[i]!;
          const row = read.get(c.key, now) as { value: string } | undefined;
          const sum = (row ? BigInt(row.value) : 0n) + c.amount;
          if (sum > c.limit) return i;
          sums.push(sum);
        }
        charges.forEach((c, i) => write.run(c.key, sums[i]!.toString(), Math.ceil(c.expiresAt)));
        return -1;
      });
      this.#charge = (charges, now) => {
        const t = Math.floor(now);
        if (t >= this.#nextLimitSweep) {
          this.#nextLimitSweep = t + 1;
          sweepLimits.run(t);
        }
        return charge.immediate(charges, t);
      };
      this.#claim = db.prepare('INSERT INTO replay (fp, exp) VALUES (?, ?) ON CONFLICT (fp) DO UPDATE SET exp = excluded.exp WHERE replay.exp <= ?');
      this.#sweep = db.prepare('DELETE FROM replay WHERE exp <= ?');
    } catch (e) {
      db.close();
      throw new ConfigError(`cannot open the replay store ${o.path}: ${(e as Error).message}`, { cause: e });
    }
    this.#db = db;
  }

  checkAndRecord(key: string, expiresAt: number, now: number): boolean {
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new InvalidArgumentError('replay store: now must be a finite number of seconds');
    if (this.#closed) throw new UnavailableError('the replay store is closed');
    const fp = createHash('sha256')
      .update(FINGERPRINT_LABEL + key)
      .digest()
      .subarray(0, 16);
    const exp = expiresAt >= 0xffffffff ? 0xffffffff : Math.ceil(expiresAt);
    const t = Math.floor(now);
    try {
      if (t >= this.#nextSweep) {
        this.#nextSweep = t + 1;
        this.#sweep.run(t);
      }
      return this.#claim.run(fp, exp, t).changes === 1;
    } catch (e) {
      // SQLITE_BUSY past the timeout, a full disk, a removed file: refuse the call.
      throw new UnavailableError(`replay store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  #nextLimitSweep = 0;

  /** Charges every counter or none (§14), in one immediate transaction. */
  chargeLimits(charges: readonly LimitCharge[], now: number): number {
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new InvalidArgumentError('limit store: now must be a finite number of seconds');
    if (this.#closed) throw new UnavailableError('the limit store is closed');
    try {
      return this.#charge(charges, now);
    } catch (e) {
      throw new UnavailableError(`limit store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
