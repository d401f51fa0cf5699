/** Helpers shared by the suites that run services: Redis, service start, phases that may fail. */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const REDIS_URL = process.env.CAPFRAME_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers PING at REDIS_URL. */
export function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const u = new URL(url);
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
