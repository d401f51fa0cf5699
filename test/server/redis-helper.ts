/**
 * Redis for tests: 127.0.0.1:6379. Each test gets a random key prefix and
 * deletes its own keys afterwards (never FLUSHALL).
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createClient } from '@redis/client';
import { REDIS_URL, redisAnswers } from '../../scripts/services.mjs';

export { REDIS_URL };

/**
 * A fresh key prefix, its keys deleted after the test. A missing Redis fails the test:
 * scripts/run-tests.mjs runs files that use this helper only when Redis answers (always with CI=true).
 */
export async function redisPrefix(t: TestContext): Promise<string | undefined> {
  if (!(await redisAnswers())) throw new Error(`Redis is not answering at ${REDIS_URL} (bash .ci/run starts it)`);
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
