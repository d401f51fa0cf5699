/**
 * The real PostgreSQL server of the test machines (127.0.0.1:5432, trust auth,
 * database `test`, user root or postgres). Each test gets its own schema and
 * drops only that schema afterwards.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type postgresModule from 'postgres';
import { postgresUrl } from '../../scripts/services.mjs';

const require = createRequire(import.meta.url);
const postgres = require('postgres') as typeof postgresModule;

let base: Promise<string | undefined> | undefined;

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
 * The server for a test, with a schema of its own. A missing server fails the test:
 * scripts/run-tests.mjs runs files that use this helper only when PostgreSQL answers
 * (always with CI=true).
 */
export async function pgTarget(t: { after(fn: () => unknown): void }): Promise<PgTarget | undefined> {
  base ??= postgresUrl();
  const url = await base;
  if (url === undefined) throw new Error('PostgreSQL is not answering on 127.0.0.1:5432 (database test, user root or postgres; bash .ci/run starts it)');
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
