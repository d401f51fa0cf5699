/**
 * Opens the registry a `db` setting names: a PostgreSQL URL
 * (`postgres://…`, `postgresql://…`) or an SQLite file path (relative to `cwd`).
 */
import { resolve } from 'node:path';
import type { Clock } from '../clock.ts';
import { RevocationRegistry } from './registry.ts';
import { PgRevocationRegistry } from './pg-registry.ts';

export type AnyRegistry = RevocationRegistry | PgRevocationRegistry;

const PG_URL = /^postgres(ql)?:\/\//i;

/** Whether a `db` setting is a PostgreSQL URL (else it is an SQLite path). */
export function isPostgresUrl(db: string): boolean {
  return PG_URL.test(db);
}

export interface OpenRegistryOptions {
  /** Base directory of a relative SQLite path. Default: process.cwd(). */
  cwd?: string;
  clock?: Clock;
  /** PostgreSQL only: version poll, ms (0: NOTIFY and reconnects only). */
  pollMs?: number;
}

export async function openRegistry(db: string, o: OpenRegistryOptions = {}): Promise<AnyRegistry> {
  if (isPostgresUrl(db)) {
    return PgRevocationRegistry.open({ url: db, ...(o.clock ? { clock: o.clock } : {}), ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}) });
  }
  return new RevocationRegistry({ path: resolve(o.cwd ?? process.cwd(), db), ...(o.clock ? { clock: o.clock } : {}) });
}
