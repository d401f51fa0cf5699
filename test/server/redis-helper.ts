/**
 * Redis for tests: 127.0.0.1:6379. With CI=true a missing server is a
 * failure; elsewhere the test is skipped with the reason. Each test gets a
 * random key prefix and deletes its own keys afterwards (never FLUSHALL).
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import type { TestContext } from 'node:test';
import { createClient } from '@redis/client';

export const REDIS_URL = process.env.CAPFRAME_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function ping(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** A fresh key prefix when Redis answers; undefined (test skipped) when it does not, outside CI. */
export async function redisPrefix(t: TestContext): Promise<string | undefined> {
  if (!(await ping())) {
    const why = `Redis is not answering at ${REDIS_URL} (start it, e.g. bash .ci/run does)`;
    if (process.env.CI === 'true') throw new Error(`${why}; CI=true requires it`);
    t.skip(why);
    return undefined;
  }
  const prefix = `capframe-test:${randomBytes(6).toString('hex')}:`;
  t.after(() => deleteKeys(prefix));
  return prefix;
}

export async function deleteKeys(prefix: string): Promise<void> {
  const c = createClient({ url: REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length) await c.del(keys);
    }
  } finally {
    await c.close();
  }
}

export async function countKeys(prefix: string): Promise<number> {
  const c = createClient({ url: REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  let n = 0;
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) n += keys.length;
  } finally {
    await c.close();
  }
  return n;
}
