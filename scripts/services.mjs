// The local servers some tests and benchmarks need (Redis, PostgreSQL), probed the same way
// by the test runner, the test helpers and the benchmarks.
import { createConnection } from 'node:net';
import { createRequire } from 'node:module';

export const REDIS_URL = process.env.CAPFRAME_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers PING at `url` (within 1 s). */
export function redisAnswers(url = REDIS_URL) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** The URL of the PostgreSQL database `test` on 127.0.0.1:5432 (trust auth, as root or postgres), or undefined. */
export async function postgresUrl() {
  if (process.env.CAPFRAME_PG_URL) return process.env.CAPFRAME_PG_URL;
  const postgres = createRequire(import.meta.url)('postgres');
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
