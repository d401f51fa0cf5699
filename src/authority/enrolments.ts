/**
 * Enrolment state of the authority service: enrolled agents (subject, holder
 * key, profile, active or disenrolled) and one-time enrolment codes (stored
 * as SHA-256 digests, single use, expiring). An embedded SQLite database
 * (better-sqlite3, WAL, synchronous=FULL: an enrolment change is on disk
 * before it is acknowledged); schema changes are migrations tracked in
 * PRAGMA user_version.
 *
 * A subject lives once: a disenrolled subject is never enrolled again (its
 * tokens are revoked by subject, and that revocation is permanent).
 */
import type Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { encodeBase64url } from '../encoding/base64url.ts';
import { CapframeError, ConfigError, InvalidArgumentError, RevokedError, UnauthorizedError } from '../errors.ts';
import { toHex } from '../crypto/hash.ts';

const require = createRequire(import.meta.url);

export const DEFAULT_ENROLMENT_DB = './.capframe/enrolments.db';
export const CODE_PREFIX = 'cfe1.';
const BUSY_TIMEOUT_MS = 10_000;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE agents (
     subject TEXT PRIMARY KEY, holder TEXT NOT NULL, profile TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'disenrolled')),
     via TEXT NOT NULL, enrolled_at INTEGER NOT NULL, disenrolled_at INTEGER);
   CREATE UNIQUE INDEX agents_active_holder ON agents (holder) WHERE status = 'active';
   CREATE INDEX agents_holder ON agents (holder);
   CREATE TABLE codes (
     digest TEXT PRIMARY KEY, profile TEXT NOT NULL, subject TEXT,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);`,
];

export interface Agent {
  readonly subject: string;
  /** Hex of the 32-byte holder public key. */
  readonly holder: string;
  readonly profile: string;
  readonly status: 'active' | 'disenrolled';
  /** `admin` or `code`. */
  readonly via: string;
  readonly enrolledAt: number;
  readonly disenrolledAt: number | null;
}

export interface EnrolInput {
  readonly subject: string;
  readonly holder: Uint8Array;
  readonly profile: string;
  readonly via: 'admin' | 'code';
  readonly now: number;
}

export interface EnrolResult {
  readonly agent: Agent;
  /** False when the very same enrolment already existed (idempotent retry). */
  readonly changed: boolean;
}

/** SHA-256 hex of an enrolment code: what is stored. */
export function codeDigest(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/** A fresh one-time enrolment code: `cfe1.` + 32 random bytes in base64url. */
export function newEnrolmentCode(): string {
  return CODE_PREFIX + encodeBase64url(new Uint8Array(randomBytes(32)));
}

type Row = {
  subject: string;
  holder: string;
  profile: string;
  status: 'active' | 'disenrolled';
  via: string;
  enrolled_at: number;
  disenrolled_at: number | null;
};
const agentOf = (r: Row): Agent =>
  Object.freeze({
    subject: r.subject,
    holder: r.holder,
    profile: r.profile,
    status: r.status,
    via: r.via,
    enrolledAt: r.enrolled_at,
    disenrolledAt: r.disenrolled_at,
  });

/**
 * Runs `onChange` (e.g. writing the audit line) inside the enrolment's
 * transaction, for a change only: if it throws, the change is rolled back.
 */
function changed(r: EnrolResult, onChange: ((r: EnrolResult) => void) | undefined): EnrolResult {
  if (r.changed) onChange?.(r);
  return r;
}

export class EnrolmentStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #st: Record<string, Database.Statement>;

  constructor(options: { path?: string } = {}) {
    const path = options.path ?? DEFAULT_ENROLMENT_DB;
    this.path = path === ':memory:' ? path : resolve(path);
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
      let Sqlite: typeof Database;
      try {
        Sqlite = require('better-sqlite3') as typeof Database;
      } catch (e) {
        throw new ConfigError(`the enrolment store needs the optional package better-sqlite3 (npm install better-sqlite3): ${(e as Error).message}`, {
          cause: e,
        });
      }
      db = new Sqlite(this.path);
      this.#db = db;
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const from = db.pragma('user_version', { simple: true }) as number;
      if (from > MIGRATIONS.length) throw new ConfigError(`enrolment store ${this.path} has schema version ${from}, newer than this capframe`);
      for (let v = from; v < MIGRATIONS.length; v++) {
        db.transaction(() => {
          if ((db!.pragma('user_version', { simple: true }) as number) !== v) return;
          db!.exec(MIGRATIONS[v]!);
          db!.pragma(`user_version = ${v + 1}`);
        }).immediate();
      }
    } catch (e) {
      try {
        db?.close();
      } catch {
        /* not open */
      }
      if (e instanceof CapframeError) throw e;
      throw new ConfigError(`cannot open the enrolment store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.#st = {
      bySubject: db.prepare('SELECT * FROM agents WHERE subject = ?'),
      activeByHolder: db.prepare("SELECT * FROM agents WHERE holder = ? AND status = 'active'"),
      anyByHolder: db.prepare('SELECT * FROM agents WHERE holder = ? ORDER BY enrolled_at DESC LIMIT 1'),
      insert: db.prepare("INSERT INTO agents (subject, holder, profile, status, via, enrolled_at) VALUES (?, ?, ?, 'active', ?, ?)"),
      disenrol: db.prepare("UPDATE agents SET status = 'disenrolled', disenrolled_at = ? WHERE subject = ? AND status = 'active'"),
      list: db.prepare('SELECT * FROM agents ORDER BY subject'),
      listPage: db.prepare('SELECT * FROM agents ORDER BY subject LIMIT ?'),
      count: db.prepare('SELECT count(*) AS n FROM agents'),
      addCode: db.prepare('INSERT INTO codes (digest, profile, subject, created_at, expires_at) VALUES (?, ?, ?, ?, ?)'),
      getCode: db.prepare('SELECT profile, subject, expires_at, used_at FROM codes WHERE digest = ?'),
      useCode: db.prepare('UPDATE codes SET used_at = ? WHERE digest = ? AND used_at IS NULL'),
      purgeCodes: db.prepare('DELETE FROM codes WHERE expires_at < ?'),
    };
  }

  /** The agent enrolled as `subject` (active or disenrolled). */
  get(subject: string): Agent | undefined {
    const r = this.#st.bySubject!.get(subject) as Row | undefined;
    return r ? agentOf(r) : undefined;
  }

  /** The active agent holding `holder`, else the latest disenrolled one, else undefined. */
  byHolder(holder: Uint8Array): Agent | undefined {
    const h = toHex(holder);
    const r = (this.#st.activeByHolder!.get(h) ?? this.#st.anyByHolder!.get(h)) as Row | undefined;
    return r ? agentOf(r) : undefined;
  }

  list(): Agent[] {
    return (this.#st.list!.all() as Row[]).map(agentOf);
  }

  /** The first `limit` agents by subject and how many there are (a page to show, not the whole table). */
  page(limit: number): { total: number; agents: Agent[] } {
    return this.#db
      .transaction(() => ({ total: (this.#st.count!.get() as { n: number }).n, agents: (this.#st.listPage!.all(limit) as Row[]).map(agentOf) }))
      .deferred();
  }

  /**
   * Enrols an agent. The same subject, key and profile again is an idempotent
   * success; a subject or key already enrolled otherwise is ERR_INVALID_ARGUMENT;
   * a disenrolled subject is ERR_REVOKED. `onChange` runs before the commit
   * of a change: if it throws, nothing is enrolled.
   */
  enrol(e: EnrolInput, onChange?: (r: EnrolResult) => void): EnrolResult {
    return this.#db.transaction(() => changed(this.#enrol(e), onChange)).immediate();
  }

  #enrol(e: EnrolInput): EnrolResult {
    const holder = toHex(e.holder);
    const existing = this.#st.bySubject!.get(e.subject) as Row | undefined;
    if (existing) {
      if (existing.status === 'disenrolled') throw new RevokedError(`subject ${e.subject} was disenrolled; enrol under a new subject`);
      if (existing.holder === holder && existing.profile === e.profile) return { agent: agentOf(existing), changed: false };
      throw new InvalidArgumentError(`subject ${e.subject} is already enrolled with another key or profile`);
    }
    if (this.#st.activeByHolder!.get(holder)) throw new InvalidArgumentError('this holder key is already enrolled under another subject');
    this.#st.insert!.run(e.subject, holder, e.profile, e.via, e.now);
    return { agent: agentOf(this.#st.bySubject!.get(e.subject) as Row), changed: true };
  }

  /** Stores a new code's digest for `profile` (and optionally one subject) until `expiresAt`. */
  addCode(digest: string, profile: string, subject: string | undefined, now: number, expiresAt: number): void {
    if (!/^[0-9a-f]{64}$/.test(digest)) throw new InvalidArgumentError('a code digest is 64 hex digits');
    this.#db.transaction(() => {
      this.#st.purgeCodes!.run(now);
      this.#st.addCode!.run(digest, profile, subject ?? null, now, expiresAt);
    })();
  }

  /**
   * Enrols with a one-time code, atomically: the code is used up only when
   * the enrolment succeeds. Unknown, used or expired codes, and a code for
   * another profile or subject, are ERR_UNAUTHORIZED.
   */
  enrolWithCode(code: string, e: Omit<EnrolInput, 'via'>, onChange?: (r: EnrolResult) => void): EnrolResult {
    const digest = codeDigest(code);
    return this.#db
      .transaction(() => {
        const c = this.#st.getCode!.get(digest) as { profile: string; subject: string | null; expires_at: number; used_at: number | null } | undefined;
        if (!c || c.used_at !== null || c.expires_at <= e.now) throw new UnauthorizedError('the enrolment code is unknown, used or expired');
        if (c.profile !== e.profile) throw new UnauthorizedError('the enrolment code is for another profile');
        if (c.subject !== null && c.subject !== e.subject) throw new UnauthorizedError('the enrolment code is for another subject');
        const r = this.#enrol({ ...e, via: 'code' });
        this.#st.useCode!.run(e.now, digest);
        return changed(r, onChange);
      })
      .immediate();
  }

  /** Marks the agent disenrolled. Returns the agent, or undefined when no such subject; `changed` false when it already was. */
  disenrol(subject: string, now: number): { agent: Agent; changed: boolean } | undefined {
    return this.#db
      .transaction(() => {
        const changed = this.#st.disenrol!.run(now, subject).changes > 0;
        const r = this.#st.bySubject!.get(subject) as Row | undefined;
        return r ? { agent: agentOf(r), changed } : undefined;
      })
      .immediate();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
