/**
 * The real PostgreSQL server of the test machines (127.0.0.1:5432, trust auth,
 * database `test`, user root or postgres). Each test gets its own schema and
 * drops only that schema afterwards. With CI=true a missing server fails the
 * test; otherwise the test is skipped and says why.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type postgresModule from 'postgres';

const require = createRequire(import.meta.url);
const postgres = require('postgres') as typeof postgresModule;

let base: Promise<string | undefined> | undefined;

async function probe(): Promise<string | undefined> {
  for (const user of ['root', 'postgres']) {
    const url = `postgres://${user}@127.0.0.1:5432/test`;
    const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return url;
    } catch {
      // next user
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
  return undefined;
}

export interface PgTarget {
  /** Base URL (no schema). */
  readonly base: string;
  /** This test's own schema. */
  readonly schema: string;
  /** Base URL with `?schema=` of this test's schema. */
  readonly url: string;
  /** A short-lived admin connection (for terminating backends and cleanup). */
  admin<T>(fn: (sql: postgresModule.Sql) => Promise<T>): Promise<T>;
}

/**
 * Resolves the server for a test, or returns undefined after marking the test
 * skipped (not in CI). In CI a missing server throws: a failure.
 */
export async function pgTarget(t: { skip(msg: string): void; after(fn: () => unknown): void }): Promise<PgTarget | undefined> {
  base ??= probe();
  const url = await base;
  if (url === undefined) {
    const why = 'PostgreSQL is not answering on 127.0.0.1:5432 (database test, user root or postgres)';
    if (process.env.CI === 'true') throw new Error(`${why}: required when CI=true`);
    t.skip(`${why}; skipped locally`);
    return undefined;
  }
  const schema = `capframe_t_${randomBytes(6).toString('hex')}`;
  const admin = async <T>(fn: (sql: postgresModule.Sql) => Promise<T>): Promise<T> => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return await fn(sql);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  };
  t.after(() => admin((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)));
  return { base: url, schema, url: `${url}?schema=${schema}`, admin };
}
