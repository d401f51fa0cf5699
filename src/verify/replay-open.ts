/**
 * Opens the replay store a config names (the `replay:` section): memory (the
 * default, in process, lost on restart), sqlite (a file: survives restarts,
 * shared by the processes of one host) or redis (shared by every verifier of
 * a deployment). The SQLite and Redis packages are loaded only here, when
 * such a store is asked for.
 */
import { InvalidArgumentError } from '../errors.ts';
import { MemoryReplayStore, type ReplayStore } from './replay.ts';
import { SqliteReplayStore } from './replay-sqlite.ts';
import { RedisReplayStore } from './replay-redis.ts';

export interface ReplayStoreConfig {
  readonly store: 'memory' | 'sqlite' | 'redis';
  /** memory: live entries at most. */
  readonly capacity?: number;
  /** sqlite: the database file (resolved by the caller). */
  readonly path?: string;
  /** sqlite: survive a power loss too. */
  readonly fsync?: boolean;
  /** redis: redis://host:port[/db]. */
  readonly url?: string;
  /** redis: key prefix. */
  readonly prefix?: string;
  /** redis: deadline of one claim, ms; sqlite: lock wait, ms. */
  readonly timeout?: number;
}

export function openReplayStore(c: ReplayStoreConfig): ReplayStore {
  switch (c.store) {
    case 'memory':
      return new MemoryReplayStore(c.capacity);
    case 'sqlite':
      if (!c.path) throw new InvalidArgumentError('replay.store sqlite needs a path');
      return new SqliteReplayStore({
        path: c.path,
        ...(c.fsync !== undefined ? { fsync: c.fsync } : {}),
        ...(c.timeout !== undefined ? { busyTimeout: c.timeout } : {}),
      });
    case 'redis':
      if (!c.url) throw new InvalidArgumentError('replay.store redis needs a url');
      return new RedisReplayStore({
        url: c.url,
        ...(c.prefix !== undefined ? { prefix: c.prefix } : {}),
        ...(c.timeout !== undefined ? { timeout: c.timeout } : {}),
      });
    default:
      throw new InvalidArgumentError(`unknown replay store ${JSON.stringify((c as { store?: unknown }).store)}`);
  }
}
