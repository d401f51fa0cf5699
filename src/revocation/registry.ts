/**
 * The authority's registry of issued and revoked tokens: an embedded SQLite
 * database (better-sqlite3), WAL mode with synchronous=FULL so that a
 * revocation is on disk before it is acknowledged. Schema changes are
 * versioned migrations tracked in PRAGMA user_version.
 *
 * Every change bumps `state.version` in the same transaction: the version of
 * the signed snapshot built from it (monotonic, never reused).
 */
import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CapframeError, ConfigError, InvalidArgumentError } from '../errors.ts';
import { kidToString, KID_BYTES } from '../crypto/keys.ts';
import { checkSubject } from '../token/block.ts';
import { Token } from '../token/token.ts';
import { decodeChain } from '../token/chain.ts';
import { verifyChain } from '../verify/chain.ts';
import { defaultBackend } from '../crypto/default.ts';
import type { Keyring } from '../verify/keyring.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseIdHex } from './snapshot.ts';
import { createRequire } from 'node:module';
import { loadDriver } from './load-driver.ts';

const require = createRequire(import.meta.url);

export const DEFAULT_DB_PATH = './.capframe/authority.db';
/** How long an opener or writer waits for another process's lock before failing. */
const BUSY_TIMEOUT_MS = 10_000;

/** Migration n (1-based) brings user_version from n-1 to n. Never edit a shipped one; append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE state (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);
   INSERT INTO state (one, version) VALUES (1, 0);
   CREATE TABLE issued (
     id TEXT PRIMARY KEY, kid TEXT NOT NULL, subject TEXT NOT NULL,
     iat INTEGER NOT NULL, exp INTEGER NOT NULL, recorded_at INTEGER NOT NULL);
   CREATE INDEX issued_subject ON issued (subject);
   CREATE TABLE revoked_ids (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
     expires_at INTEGER, reason TEXT, revoked_at INTEGER NOT NULL);
   CREATE TABLE revoked_subjects (subject TEXT PRIMARY KEY, reason TEXT, revoked_at INTEGER NOT NULL);
   CREATE TABLE key_cutoffs (kid TEXT PRIMARY KEY, before INTEGER NOT NULL, reason TEXT, revoked_at INTEGER NOT NULL);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface RegistryOptions {
  /** Database file; default ./.capframe/authority.db (its directory is created). ':memory:' for tests. */
  path?: string;
  clock?: Clock;
  readonly?: boolean;
}

export interface RevokeOptions {
  reason?: string;
}

export interface RevokeTokenOptions extends RevokeOptions {
  /**
   * Authority keys to verify the token against (a Keyring or a kid lookup).
   * Only a verified token's expiry bounds how long its revocation is kept;
   * verification failures throw (ERR_SIGNATURE_INVALID, ERR_UNKNOWN_KEY, ...).
   */
  trusted?: Keyring | ((kid: Uint8Array) => Uint8Array | undefined);
}

export interface RevokeResult {
  /** False when it was already revoked (nothing changed, version unchanged). */
  readonly changed: boolean;
  /** Registry version after the call. */
  readonly version: number;
  /** What was revoked: a hex id, a subject or a key id. */
  readonly target: string;
}

export interface RevokedIdRow {
  readonly seq: number;
  readonly id: string;
  readonly expiresAt: number | null;
}

/** A consistent read of everything a snapshot needs. */
export interface RegistryView {
  readonly version: number;
  /** Revoked ids with seq > sinceSeq, ascending seq. */
  readonly ids: readonly RevokedIdRow[];
  readonly subjects: readonly string[];
  readonly cutoffs: readonly { readonly kid: string; readonly before: number }[];
}

/** A bounded read for a console page: the newest ids first, the first subjects and cut-offs, and the totals. */
export interface RegistryPage {
  readonly version: number;
  readonly totals: { readonly ids: number; readonly subjects: number; readonly cutoffs: number };
  /** Newest (highest seq) first. */
  readonly ids: readonly RevokedIdRow[];
  readonly subjects: readonly string[];
  readonly cutoffs: readonly { readonly kid: string; readonly before: number }[];
}

export function checkReason(r: string | undefined): string | null {
  if (r === undefined) return null;
  if (typeof r !== 'string' || r.length > 1024) throw new InvalidArgumentError('a revocation reason is text of at most 1024 characters');
  return r;
}

/** The last second of year 9999: later cut-offs are no time a date can show. */
export const MAX_CUTOFF = 253402300799;

/** Key cut-off arguments: a base64url key id of 8 bytes and unix seconds. */
export function checkCutoff(kid: string, before: number): void {
  if (typeof kid !== 'string' || Buffer.from(kid, 'base64url').length !== KID_BYTES || kidToString(Buffer.from(kid, 'base64url')) !== kid) {
    throw new InvalidArgumentError('a key id is 8 bytes in base64url');
  }
  if (!Number.isSafeInteger(before) || before < 0 || before > MAX_CUTOFF) {
    throw new InvalidArgumentError(`the cut-off time is unix seconds, at most ${MAX_CUTOFF} (9999-12-31)`);
  }
}

/**
 * What a snapshot publisher reads: the registry's current version, a
 * consistent view, and a `change` event. Both registries (SQLite, PostgreSQL) are one.
 */
export interface RegistrySource {
  readonly version: number;
  view(sinceSeq?: number, expiredBefore?: number): RegistryView;
  on(event: 'change', fn: (version: number) => void): unknown;
  off(event: 'change', fn: (version: number) => void): unknown;
}

export class RevocationRegistry extends EventEmitter<{ change: [version: number] }> implements RegistrySource {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #st: {
    version: Database.Statement<[], { version: number }>;
    bump: Database.Statement<[]>;
    insertId: Database.Statement<[string, number | null, string | null, number]>;
    insertSubject: Database.Statement<[string, string | null, number]>;
    getCutoff: Database.Statement<[string], { before: number }>;
    upsertCutoff: Database.Statement<[string, number, string | null, number]>;
    issuedExp: Database.Statement<[string], { exp: number }>;
    recordIssued: Database.Statement<[string, string, string, number, number, number]>;
    idsSince: Database.Statement<[number, number], { seq: number; id: string; expires_at: number | null }>;
    subjects: Database.Statement<[], { subject: string }>;
    cutoffs: Database.Statement<[], { kid: string; before: number }>;
    newestIds: Database.Statement<[number], { seq: number; id: string; expires_at: number | null }>;
    subjectsPage: Database.Statement<[number], { subject: string }>;
    cutoffsPage: Database.Statement<[number], { kid: string; before: number }>;
    totals: Database.Statement<[], { ids: number; subjects: number; cutoffs: number }>;
  };

  constructor(options: RegistryOptions = {}) {
    super();
    this.#clock = options.clock ?? systemClock;
    const path = options.path ?? DEFAULT_DB_PATH;
    this.path = path === ':memory:' ? path : resolve(path);
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(this.path), { recursive: true });
      const Sqlite = loadDriver<typeof Database>('better-sqlite3', () => require('better-sqlite3'), 'the SQLite revocation registry');
      db = new Sqlite(this.path, options.readonly ? { readonly: true, fileMustExist: true } : {});
      this.#db = db;
      // First: every later statement (the WAL switch included) waits for a concurrent
      // opener's lock instead of failing with SQLITE_BUSY.
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        this.#migrate();
      }
    } catch (e) {
      try {
        db?.close();
      } catch {
        /* not open */
      }
      if (e instanceof CapframeError) throw e;
      throw new ConfigError(`cannot open the revocation registry ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    if (options.readonly && this.schemaVersion !== SCHEMA_VERSION) {
      throw new InvalidArgumentError(`registry ${this.path} has schema version ${this.schemaVersion}, expected ${SCHEMA_VERSION}`);
    }
    this.#st = {
      version: db.prepare('SELECT version FROM state WHERE one = 1'),
      bump: db.prepare('UPDATE state SET version = version + 1 WHERE one = 1'),
      insertId: db.prepare('INSERT OR IGNORE INTO revoked_ids (id, expires_at, reason, revoked_at) VALUES (?, ?, ?, ?)'),
      insertSubject: db.prepare('INSERT OR IGNORE INTO revoked_subjects (subject, reason, revoked_at) VALUES (?, ?, ?)'),
      getCutoff: db.prepare('SELECT before FROM key_cutoffs WHERE kid = ?'),
      upsertCutoff: db.prepare(
        'INSERT INTO key_cutoffs (kid, before, reason, revoked_at) VALUES (?, ?, ?, ?) ON CONFLICT (kid) DO UPDATE SET before = excluded.before, reason = excluded.reason, revoked_at = excluded.revoked_at',
      ),
      issuedExp: db.prepare('SELECT exp FROM issued WHERE id = ?'),
      recordIssued: db.prepare('INSERT OR IGNORE INTO issued (id, kid, subject, iat, exp, recorded_at) VALUES (?, ?, ?, ?, ?, ?)'),
      idsSince: db.prepare('SELECT seq, id, expires_at FROM revoked_ids WHERE seq > ? AND (expires_at IS NULL OR expires_at >= ?) ORDER BY seq'),
      subjects: db.prepare('SELECT subject FROM revoked_subjects ORDER BY subject'),
      cutoffs: db.prepare('SELECT kid, before FROM key_cutoffs ORDER BY kid'),
      newestIds: db.prepare('SELECT seq, id, expires_at FROM revoked_ids ORDER BY seq DESC LIMIT ?'),
      subjectsPage: db.prepare('SELECT subject FROM revoked_subjects ORDER BY subject LIMIT ?'),
      cutoffsPage: db.prepare('SELECT kid, before FROM key_cutoffs ORDER BY kid LIMIT ?'),
      totals: db.prepare(
        'SELECT (SELECT count(*) FROM revoked_ids) AS ids, (SELECT count(*) FROM revoked_subjects) AS subjects, (SELECT count(*) FROM key_cutoffs) AS cutoffs',
      ),
    } as never;
  }

  #migrate(): void {
    const db = this.#db;
    const from = this.schemaVersion;
    if (from > SCHEMA_VERSION) {
      throw new InvalidArgumentError(`registry ${this.path} has schema version ${from}, newer than this capframe (${SCHEMA_VERSION})`);
    }
    if (from === SCHEMA_VERSION) return;
    // Each step takes the write lock first (BEGIN IMMEDIATE) and re-reads the version under
    // it: a process that lost the race to another opener finds the step done and skips it.
    for (let v = from; v < SCHEMA_VERSION; v++) {
      db.transaction(() => {
        if (this.schemaVersion !== v) return;
        db.exec(MIGRATIONS[v]!);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  get schemaVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  /** Current version (read from the database: sees commits of other processes). */
  get version(): number {
    return this.#st.version.get()!.version;
  }

  #change<T extends { changed: boolean; target: string }>(fn: () => T): RevokeResult {
    const r = this.#db
      .transaction(() => {
        const out = fn();
        if (out.changed) this.#st.bump.run();
        return { changed: out.changed, target: out.target, version: this.#st.version.get()!.version };
      })
      .immediate();
    // The transaction has committed (synchronous=FULL: it is on disk).
    if (r.changed) this.emit('change', r.version);
    return r;
  }

  /**
   * Revokes one block id (hex): the block and every token derived from it.
   * `expiresAt` (when known) lets snapshots drop the id once it cannot verify anyway.
   */
  revokeId(idHex: string, opts: RevokeOptions & { expiresAt?: number } = {}): RevokeResult {
    const id = Buffer.from(parseIdHex(idHex)).toString('hex');
    const reason = checkReason(opts.reason);
    return this.#change(() => {
      const exp = opts.expiresAt ?? this.#st.issuedExp.get(id)?.exp ?? null;
      const r = this.#st.insertId.run(id, exp, reason, this.#clock());
      return { changed: r.changes > 0, target: id };
    });
  }

  /**
   * Revokes a token's tip block (its last block): that token and everything
   * delegated from it. Its parents stay valid. Returns the revoked id.
   */
  revokeToken(token: Token | string | Uint8Array, opts: RevokeTokenOptions = {}): RevokeResult {
    const { trusted, ...rest } = opts;
    const t = token instanceof Token ? token : Token.parse(token);
    if (!trusted) {
      // Unverified: the token's claimed expiry is not trusted to bound how long the
      // revocation is kept (a forged early expiry would get the id pruned while the
      // real token still lives), so the revocation is kept until an issued record says otherwise.
      return this.revokeId(decodeChain(t).ids.at(-1)!, rest);
    }
    const trustedKey = typeof trusted === 'function' ? trusted : (kid: Uint8Array) => trusted.get(kid);
    const chain = verifyChain(t, { backend: defaultBackend(), trustedKey });
    return this.revokeId(chain.ids.at(-1)!, { ...rest, expiresAt: chain.exp });
  }

  /** Revokes every token whose chain names `subject` in any block. */
  revokeSubject(subject: string, opts: RevokeOptions = {}): RevokeResult {
    const s = checkSubject(subject, InvalidArgumentError);
    const reason = checkReason(opts.reason);
    return this.#change(() => ({ changed: this.#st.insertSubject.run(s, reason, this.#clock()).changes > 0, target: s }));
  }

  /**
   * The emergency lever: revokes every token of authority key `kid` (base64url)
   * whose root was issued before `before` (unix seconds, exclusive). A later
   * cut-off replaces an earlier one; an earlier one changes nothing.
   */
  revokeIssuedBefore(kid: string, before: number, opts: RevokeOptions = {}): RevokeResult {
    checkCutoff(kid, before);
    const reason = checkReason(opts.reason);
    return this.#change(() => {
      const cur = this.#st.getCutoff.get(kid);
      if (cur && cur.before >= before) return { changed: false, target: kid };
      this.#st.upsertCutoff.run(kid, before, reason, this.#clock());
      return { changed: true, target: kid };
    });
  }

  /** Records an issued root token (optional: lets revokeId know its expiry). */
  recordIssued(token: Token | string | Uint8Array): void {
    const chain = decodeChain(token instanceof Token ? token : Token.parse(token));
    const root = chain.blocks[0]!;
    this.#st.recordIssued.run(root.id, chain.kid, root.subject, root.iat ?? this.#clock(), root.exp, this.#clock());
  }

  /**
   * One consistent read (a single read transaction) of the revocations a
   * snapshot needs: ids added after `sinceSeq` that are not expired before
   * `expiredBefore`, plus all subjects and key cut-offs.
   */
  view(sinceSeq = 0, expiredBefore = 0): RegistryView {
    return this.#db
      .transaction(() => ({
        version: this.#st.version.get()!.version,
        ids: this.#st.idsSince.all(sinceSeq, expiredBefore).map((r) => ({ seq: r.seq, id: r.id, expiresAt: r.expires_at })),
        subjects: this.#st.subjects.all().map((r) => r.subject),
        cutoffs: this.#st.cutoffs.all(),
      }))
      .deferred();
  }

  /** At most `limit` rows of each kind and the totals, in one read transaction (RegistryPage): never the whole tables. */
  page(limit: number): RegistryPage {
    return this.#db
      .transaction(() => ({
        version: this.#st.version.get()!.version,
        totals: this.#st.totals.get()!,
        ids: this.#st.newestIds.all(limit).map((r) => ({ seq: r.seq, id: r.id, expiresAt: r.expires_at })),
        subjects: this.#st.subjectsPage.all(limit).map((r) => r.subject),
        cutoffs: this.#st.cutoffsPage.all(limit),
      }))
      .deferred();
  }

  /** Bulk insert for tests and benchmarks: one transaction, one version bump. */
  revokeIds(idsHex: Iterable<string>, opts: RevokeOptions = {}): RevokeResult {
    const reason = checkReason(opts.reason);
    const now = this.#clock();
    return this.#change(() => {
      let n = 0;
      for (const h of idsHex) n += this.#st.insertId.run(Buffer.from(parseIdHex(h)).toString('hex'), null, reason, now).changes;
      return { changed: n > 0, target: `${n} ids` };
    });
  }

  close(): void {
    this.removeAllListeners();
    if (this.#db.open) this.#db.close();
  }
}
