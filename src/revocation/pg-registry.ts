/**
 * The revocation registry on PostgreSQL, for several service replicas that
 * share one truth. Same tables, versioning and methods as the SQLite
 * registry (the writes return promises), plus:
 *
 * - Migrations under a transaction-scoped advisory lock (one per schema), so
 *   any number of replicas may start at once on a fresh database.
 * - Every change runs under the row lock of `state` (SELECT … FOR UPDATE):
 *   changes commit in sequence order, the version grows by one per change, and
 *   `pg_notify` announces it at commit.
 * - Each instance keeps a mirror of the registry (version, revoked ids by
 *   sequence, subjects, cut-offs) that the synchronous `version` and `view()`
 *   read, so the snapshot publisher works unchanged. The mirror advances on
 *   NOTIFY (every replica learns of a revocation at once), after each local
 *   change (before the write resolves), by a version poll (default every
 *   second), and whenever the LISTEN connection (re)connects: a replica that
 *   was disconnected catches up by version, reading only rows with a higher
 *   sequence number.
 *
 * Driver: `postgres` (porsager), an optional peer loaded when a registry is
 * opened: no dependencies of its own, and its LISTEN reconnects by itself and
 * reports each (re)connection, which is the catch-up hook used here.
 */
import type postgresModule from 'postgres';
import { EventEmitter } from 'node:events';
import { CapframeError, ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { checkSubject } from '../token/block.ts';
import { Token } from '../token/token.ts';
import { decodeChain } from '../token/chain.ts';
import { verifyChain } from '../verify/chain.ts';
import { defaultBackend } from '../crypto/default.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseIdHex } from './snapshot.ts';
import { createRequire } from 'node:module';
import { loadDriver } from './load-driver.ts';

const require = createRequire(import.meta.url);
import {
  checkCutoff,
  checkReason,
  type RegistrySource,
  type RegistryPage,
  type RegistryView,
  type RevokedIdRow,
  type RevokeOptions,
  type RevokeResult,
  type RevokeTokenOptions,
} from './registry.ts';

type Postgres = typeof postgresModule;
type Sql = postgresModule.Sql<Record<string, never>>;
type Tx = postgresModule.TransactionSql<Record<string, never>>;

/** Schema used when neither the option nor the URL's `schema` parameter names one. */
export const DEFAULT_PG_SCHEMA = 'capframe';
/** Advisory lock class of registry migrations (the object id is hashtext(schema)). */
const LOCK_CLASS = 0x63667267;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

/** Migration n (1-based) brings the schema version from n-1 to n. Never edit a shipped one; append. */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `CREATE TABLE ${s}.state (one INTEGER PRIMARY KEY CHECK (one = 1), version BIGINT NOT NULL);
   INSERT INTO ${s}.state (one, version) VALUES (1, 0);
   CREATE TABLE ${s}.issued (
     id TEXT PRIMARY KEY, kid TEXT NOT NULL, subject TEXT NOT NULL,
     iat BIGINT NOT NULL, exp BIGINT NOT NULL, recorded_at BIGINT NOT NULL);
   CREATE INDEX issued_subject ON ${s}.issued (subject);
   CREATE TABLE ${s}.revoked_ids (
     seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
     expires_at BIGINT, reason TEXT, revoked_at BIGINT NOT NULL);
   CREATE TABLE ${s}.revoked_subjects (subject TEXT PRIMARY KEY, reason TEXT, revoked_at BIGINT NOT NULL);
   CREATE TABLE ${s}.key_cutoffs (kid TEXT PRIMARY KEY, before BIGINT NOT NULL, reason TEXT, revoked_at BIGINT NOT NULL);`,
];
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

export interface PgRegistryOptions {
  /** `postgres://user@host:port/db`; an optional `schema=NAME` query parameter selects the schema. */
  url: string;
  /** Schema holding the tables (created if missing). Default: the URL's `schema`, else "capframe". */
  schema?: string;
  clock?: Clock;
  /** Version poll, ms, a safety net beside NOTIFY. Default 1000; 0 turns it off. */
  pollMs?: number;
  /** Connections in the pool (the LISTEN connection is one more). Default 4. */
  maxConnections?: number;
  /** application_name of the connections (visible in pg_stat_activity). Default "capframe-registry". */
  applicationName?: string;
  /** Background failures (notifications, polls). Default: one line on stderr. */
  onError?: (e: unknown) => void;
  /**
   * Seconds the mirror may go without being confirmed current against the
   * database (by a poll or a read) before view() refuses (ERR_UNAVAILABLE):
   * a replica cut off from PostgreSQL then stops re-signing a list that may
   * miss revocations made on other replicas, and its verifiers go stale and
   * deny. Default: 10, or 5 polls if longer. Not checked with pollMs 0
   * (nothing confirms an unchanged mirror; one-shot use such as the CLI).
   */
  maxLag?: number;
}

/** A URL as given, with the capframe-only `schema` parameter taken out. */
export function splitPgUrl(url: string): { url: string; schema: string | undefined } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('the PostgreSQL registry URL is not a URL');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new ConfigError('the PostgreSQL registry URL must start with postgres:// or postgresql://');
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.toString(), schema };
}

/** Where the URL points, without credentials (for messages). */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'postgres://?';
  }
}

export class PgRevocationRegistry extends EventEmitter<{ change: [version: number] }> implements RegistrySource {
  readonly schema: string;
  /** Where the registry lives (no credentials). */
  readonly location: string;
  readonly #sql: Sql;
  readonly #s: string;
  readonly #channel: string;
  readonly #clock: Clock;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #listen: { unlisten(): Promise<void> } | undefined;
  #closed = false;
  // The mirror.
  #version = -1;
  #lastSeq = 0;
  #ids: RevokedIdRow[] = [];
  #subjects: string[] = [];
  #cutoffs: { kid: string; before: number }[] = [];
  #catching: Promise<void> | undefined;
  #again = false;
  /** When the mirror was last confirmed current against the database (registry clock, seconds). */
  #confirmedAt = -Infinity;
  readonly #pollMs: number;
  readonly #maxLag: number;

  private constructor(sql: Sql, schema: string, location: string, o: PgRegistryOptions) {
    super();
    this.#sql = sql;
    this.schema = schema;
    this.location = location;
    this.#s = `"${schema}"`;
    this.#channel = `capframe_revocations_${schema}`;
    this.#clock = o.clock ?? systemClock;
    this.#onError = o.onError ?? ((e) => process.stderr.write(`capframe: PostgreSQL revocation registry: ${e instanceof Error ? e.message : String(e)}\n`));
    this.#pollMs = o.pollMs ?? 1000;
    this.#maxLag = o.maxLag ?? Math.max(10, (5 * this.#pollMs) / 1000);
  }

  /** Connects, migrates (under the advisory lock), loads the mirror and starts listening. ERR_CONFIG when it cannot. */
  static async open(o: PgRegistryOptions): Promise<PgRevocationRegistry> {
    if (!o || typeof o.url !== 'string') throw new InvalidArgumentError('PgRevocationRegistry needs a url');
    const split = splitPgUrl(o.url);
    const schema = o.schema ?? split.schema ?? DEFAULT_PG_SCHEMA;
    if (o.maxLag !== undefined && (typeof o.maxLag !== 'number' || !(o.maxLag > 0)))
      throw new InvalidArgumentError('maxLag must be a positive number of seconds');
    if (!SCHEMA_NAME.test(schema))
      throw new ConfigError(`PostgreSQL schema ${JSON.stringify(schema)}: lowercase letters, digits and _ only, at most 40 characters`);
    const postgres = loadDriver<Postgres>('postgres', () => require('postgres'), 'the PostgreSQL revocation registry');
    const location = describe(split.url);
    const sql = postgres(split.url, {
      max: o.maxConnections ?? 4,
      onnotice: () => {},
      connect_timeout: 10,
      connection: { application_name: o.applicationName ?? 'capframe-registry' },
    }) as unknown as Sql;
    const reg = new PgRevocationRegistry(sql, schema, location, o);
    try {
      await reg.#migrate();
      await reg.#catchUp();
      reg.#listen = await sql.listen(
        reg.#channel,
        () => reg.#kick(),
        () => reg.#kick(),
      );
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      if (e instanceof CapframeError) throw e;
      throw new ConfigError(`cannot open the revocation registry ${location} (schema ${schema}): ${(e as Error).message}`, { cause: e });
    }
    const poll = reg.#pollMs;
    if (poll > 0) {
      reg.#timer = setInterval(() => {
        reg.#poll();
      }, poll);
      reg.#timer.unref();
    }
    return reg;
  }

  async #migrate(): Promise<void> {
    const s = this.#s;
    await this.#sql.begin(async (tx: Tx) => {
      // Serializes concurrent starts on this schema; released at commit.
      await tx.unsafe('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, this.schema]);
      await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)`);
      await tx.unsafe(`INSERT INTO ${s}.schema_version (one, version) VALUES (1, 0) ON CONFLICT (one) DO NOTHING`);
      const [row] = await tx.unsafe(`SELECT version FROM ${s}.schema_version WHERE one = 1`);
      const from = Number(row!.version);
      if (from > PG_SCHEMA_VERSION) {
        throw new ConfigError(`registry ${this.location} schema ${this.schema} has schema version ${from}, newer than this capframe (${PG_SCHEMA_VERSION})`);
      }
      for (let v = from; v < PG_SCHEMA_VERSION; v++) {
        await tx.unsafe(MIGRATIONS[v]!(s));
        await tx.unsafe(`UPDATE ${s}.schema_version SET version = $1 WHERE one = 1`, [v + 1]);
      }
    });
  }

  /** Registry version of the mirror (current within a NOTIFY of any change; after a local change, at once). */
  get version(): number {
    return this.#version;
  }

  /** The version in the database now (one query). */
  async currentVersion(): Promise<number> {
    const [row] = await this.#sql.unsafe(`SELECT version FROM ${this.#s}.state WHERE one = 1`);
    return Number(row!.version);
  }

  #assertCurrent(): void {
    const lag = this.#clock() - this.#confirmedAt;
    if (this.#pollMs > 0 && !(lag <= this.#maxLag)) {
      throw new UnavailableError(
        `the PostgreSQL registry ${this.location} has not been confirmed current for ${Number.isFinite(lag) ? `${lag}s` : 'ever'} (bound ${this.#maxLag}s): its revocation list may be stale`,
      );
    }
  }

  /** As RevocationRegistry.page, from the mirror. */
  page(limit: number): RegistryPage {
    this.#assertCurrent();
    return {
      version: this.#version,
      totals: { ids: this.#ids.length, subjects: this.#subjects.length, cutoffs: this.#cutoffs.length },
      ids: this.#ids.slice(-limit).reverse(),
      subjects: this.#subjects.slice(0, limit),
      cutoffs: this.#cutoffs.slice(0, limit),
    };
  }

  /** The mirror's consistent view (as RevocationRegistry.view). */
  view(sinceSeq = 0, expiredBefore = 0): RegistryView {
    this.#assertCurrent();
    const ids: RevokedIdRow[] = [];
    // Rows are in ascending seq: find the first one after sinceSeq by binary search.
    let lo = 0,
      hi = this.#ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ids[mid]!.seq <= sinceSeq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#ids.length; i++) {
      const r = this.#ids[i]!;
      if (r.expiresAt === null || r.expiresAt >= expiredBefore) ids.push(r);
    }
    return { version: this.#version, ids, subjects: [...this.#subjects], cutoffs: [...this.#cutoffs] };
  }

  #kick(): void {
    if (this.#closed) return;
    this.#catchUp().catch((e) => this.#onError(e));
  }

  #poll(): void {
    if (this.#closed || this.#catching) return;
    const at = this.#clock();
    this.currentVersion().then(
      (v) => {
        if (v !== this.#version) this.#kick();
        else if (at > this.#confirmedAt) this.#confirmedAt = at;
      },
      (e) => this.#onError(e),
    );
  }

  /** Brings the mirror up to the database: one read-only repeatable-read transaction; one run at a time. */
  #catchUp(): Promise<void> {
    if (this.#catching) {
      this.#again = true;
      return this.#catching;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        await this.#read();
      } while (this.#again && !this.#closed);
    };
    this.#catching = run().finally(() => {
      this.#catching = undefined;
    });
    return this.#catching;
  }

  async #read(): Promise<void> {
    const s = this.#s;
    const before = this.#version;
    const at = this.#clock();
    const got = await this.#sql.begin('isolation level repeatable read read only', async (tx: Tx) => {
      const [st] = await tx.unsafe(`SELECT version FROM ${s}.state WHERE one = 1`);
      const version = Number(st!.version);
      if (version === before) return undefined;
      const ids = await tx.unsafe(`SELECT seq, id, expires_at FROM ${s}.revoked_ids WHERE seq > $1 ORDER BY seq`, [this.#lastSeq]);
      const subjects = await tx.unsafe(`SELECT subject FROM ${s}.revoked_subjects ORDER BY subject COLLATE "C"`);
      const cutoffs = await tx.unsafe(`SELECT kid, before FROM ${s}.key_cutoffs ORDER BY kid COLLATE "C"`);
      return { version, ids, subjects, cutoffs };
    });
    // What the database said as of `at` is in the mirror once this returns.
    const confirm = (): void => {
      if (at > this.#confirmedAt) this.#confirmedAt = at;
    };
    if (this.#closed) return;
    if (got === undefined || got.version === this.#version) return confirm();
    if (got.version < this.#version) {
      // Versions never go backwards (a restored or re-created database?): what the mirror holds
      // can no longer be matched to the database, so it is left unconfirmed and view() refuses.
      this.#onError(new UnavailableError(`the PostgreSQL registry ${this.location} went back from version ${this.#version} to ${got.version}`));
      return;
    }
    for (const r of got.ids) {
      const seq = Number(r.seq);
      if (seq <= this.#lastSeq) continue;
      this.#ids.push({ seq, id: String(r.id), expiresAt: r.expires_at === null ? null : Number(r.expires_at) });
      this.#lastSeq = seq;
    }
    this.#subjects = got.subjects.map((r) => String(r.subject));
    this.#cutoffs = got.cutoffs.map((r) => ({ kid: String(r.kid), before: Number(r.before) }));
    this.#version = got.version;
    confirm();
    this.emit('change', got.version);
  }

  async #change(fn: (tx: Tx) => Promise<{ changed: boolean; target: string }>): Promise<RevokeResult> {
    if (this.#closed) throw new ConfigError('the revocation registry is closed');
    const s = this.#s;
    const r = await this.#sql.begin(async (tx: Tx) => {
      // The row lock orders every change: sequence numbers commit in order, versions never skip.
      const [st] = await tx.unsafe(`SELECT version FROM ${s}.state WHERE one = 1 FOR UPDATE`);
      const out = await fn(tx);
      let version = Number(st!.version);
      if (out.changed) {
        version += 1;
        await tx.unsafe(`UPDATE ${s}.state SET version = $1 WHERE one = 1`, [version]);
        await tx.unsafe('SELECT pg_notify($1, $2)', [this.#channel, String(version)]);
      }
      return { changed: out.changed, target: out.target, version };
    });
    // Committed; the mirror (and so this replica's snapshots) has it before the caller hears back.
    if (r.changed) await this.#catchUp();
    return r;
  }

  /** As RevocationRegistry.revokeId. */
  async revokeId(idHex: string, opts: RevokeOptions & { expiresAt?: number } = {}): Promise<RevokeResult> {
    const id = Buffer.from(parseIdHex(idHex)).toString('hex');
    const reason = checkReason(opts.reason);
    return this.#change(async (tx) => {
      let exp = opts.expiresAt ?? null;
      if (exp === null) {
        const [row] = await tx.unsafe(`SELECT exp FROM ${this.#s}.issued WHERE id = $1`, [id]);
        exp = row ? Number(row.exp) : null;
      }
      const res = await tx.unsafe(
        `INSERT INTO ${this.#s}.revoked_ids (id, expires_at, reason, revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
        [id, exp, reason, this.#clock()],
      );
      return { changed: res.count > 0, target: id };
    });
  }

  /** As RevocationRegistry.revokeToken: the tip block; only a verified token's expiry is kept. */
  async revokeToken(token: Token | string | Uint8Array, opts: RevokeTokenOptions = {}): Promise<RevokeResult> {
    const { trusted, ...rest } = opts;
    const t = token instanceof Token ? token : Token.parse(token);
    if (!trusted) return this.revokeId(decodeChain(t).ids.at(-1)!, rest);
    const trustedKey = typeof trusted === 'function' ? trusted : (kid: Uint8Array) => trusted.get(kid);
    const chain = verifyChain(t, { backend: defaultBackend(), trustedKey });
    return this.revokeId(chain.ids.at(-1)!, { ...rest, expiresAt: chain.exp });
  }

  /** As RevocationRegistry.revokeSubject. */
  async revokeSubject(subject: string, opts: RevokeOptions = {}): Promise<RevokeResult> {
    const s = checkSubject(subject, InvalidArgumentError);
    const reason = checkReason(opts.reason);
    return this.#change(async (tx) => {
      const res = await tx.unsafe(
        `INSERT INTO ${this.#s}.revoked_subjects (subject, reason, revoked_at) VALUES ($1, $2, $3) ON CONFLICT (subject) DO NOTHING`,
        [s, reason, this.#clock()],
      );
      return { changed: res.count > 0, target: s };
    });
  }

  /** As RevocationRegistry.revokeIssuedBefore. */
  async revokeIssuedBefore(kid: string, before: number, opts: RevokeOptions = {}): Promise<RevokeResult> {
    checkCutoff(kid, before);
    const reason = checkReason(opts.reason);
    return this.#change(async (tx) => {
      const [cur] = await tx.unsafe(`SELECT before FROM ${this.#s}.key_cutoffs WHERE kid = $1`, [kid]);
      if (cur && Number(cur.before) >= before) return { changed: false, target: kid };
      await tx.unsafe(
        `INSERT INTO ${this.#s}.key_cutoffs (kid, before, reason, revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO UPDATE SET before = excluded.before, reason = excluded.reason, revoked_at = excluded.revoked_at`,
        [kid, before, reason, this.#clock()],
      );
      return { changed: true, target: kid };
    });
  }

  /** As RevocationRegistry.recordIssued. */
  async recordIssued(token: Token | string | Uint8Array): Promise<void> {
    const chain = decodeChain(token instanceof Token ? token : Token.parse(token));
    const root = chain.blocks[0]!;
    await this.#sql.unsafe(
      `INSERT INTO ${this.#s}.issued (id, kid, subject, iat, exp, recorded_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [root.id, chain.kid, root.subject, root.iat ?? this.#clock(), root.exp, this.#clock()],
    );
  }

  /** Bulk insert for tests and benchmarks: one transaction, one version bump. */
  async revokeIds(idsHex: Iterable<string>, opts: RevokeOptions = {}): Promise<RevokeResult> {
    const reason = checkReason(opts.reason);
    const ids = [...idsHex].map((h) => Buffer.from(parseIdHex(h)).toString('hex'));
    const now = this.#clock();
    return this.#change(async (tx) => {
      let n = 0;
      for (let i = 0; i < ids.length; i += 5000) {
        const part = ids.slice(i, i + 5000);
        const res = await tx.unsafe(
          `INSERT INTO ${this.#s}.revoked_ids (id, expires_at, reason, revoked_at) SELECT x, NULL, $2, $3 FROM unnest($1::text[]) WITH ORDINALITY AS t(x, o) ORDER BY o ON CONFLICT (id) DO NOTHING`,
          [part as never, reason, now],
        );
        n += res.count;
      }
      return { changed: n > 0, target: `${n} ids` };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.removeAllListeners();
    await this.#listen?.unlisten().catch(() => {});
    await this.#sql.end({ timeout: 2 });
  }
}
