/** Helpers shared by the suites that run services: Redis, service start, phases that may fail. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { REDIS_URL, redisAnswers } from '../scripts/services.mjs';
import { generateKey, issueToken, type PrivateKey, type Token } from '../src/index.ts';

export { REDIS_URL, redisAnswers };

export const benchPrefix = (tag: string) => `capframe-bench:${tag}:${randomBytes(6).toString('hex')}:`;

/** Deletes the keys under `prefix` (never anything else). */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const { createClient } = await import('@redis/client');
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await c.del(keys);
  } finally {
    await c.close();
  }
}

/**
 * The clock skew benchmark services run with, seconds. A service on the
 * memory replay store refuses proofs issued before its start plus the skew;
 * waitPastStart() waits that out before the first call.
 */
export const BENCH_SKEW = 1;
export const waitPastStart = () => sleep((BENCH_SKEW + 1.1) * 1000);

/** Runs a phase; a failure is recorded (name -> message) and the suite goes on with the others. */
export async function phase<T>(failed: Record<string, string>, name: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    failed[name] = (e instanceof Error ? e.message : String(e)).slice(0, 300);
    process.stderr.write(`bench: phase ${name} failed: ${failed[name]}\n`);
    return undefined;
  }
}

/** An authority, a holder and the holder's one-hour token to read `resource` (the benches' workload grant). */
export function benchToken(resource = 'tickets://acme/*'): { authority: PrivateKey; holder: PrivateKey; token: Token } {
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({ key: authority, subject: 'agent:bench', holder: holder.publicKey, ttl: '1h', grants: [{ resource, permissions: ['read'] }] });
  return { authority, holder, token };
}
