/**
 * The `replay:` section of the capframe YAML config: where verifiers record
 * the invocations they accepted, so that each is accepted once.
 *
 *   replay:
 *     store: memory              # memory (default) | sqlite | redis
 *     capacity: 200000           # memory: live entries at most
 *     path: ./replay.db          # sqlite: the file (relative to the config file)
 *     fsync: false               # sqlite: also survive a power loss
 *     url: redis://127.0.0.1:6379   # redis
 *     prefix: "capframe:replay:"    # redis: key prefix
 *     timeout: 1s                # redis: deadline of one claim (default 1s); sqlite: lock wait (default 2s)
 *
 * memory: one process; after a restart the verifier refuses proofs issued
 * before it started plus the clock skew (it cannot know which it accepted).
 * sqlite: one host; a restarted verifier refuses what it accepted before.
 * redis: any number of verifiers; Redis down or slower than `timeout` is a
 * denial (ERR_UNAVAILABLE), never an allow.
 */
import { z } from 'zod';
import { parseDuration } from '../duration.ts';

const ms = z
  .union([z.string(), z.number()], { error: 'expected a duration such as 250ms, 2s or a number of milliseconds' })
  .transform((v, ctx) => {
    try {
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v) || v <= 0) throw new Error('expected a positive whole number of milliseconds');
        return v;
      }
      const m = /^\s*(\d{1,7})\s*ms\s*$/.exec(v);
      return m ? Number(m[1]) : parseDuration(v) * 1000;
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  })
  .refine((v) => v <= 60_000, { message: 'at most 60s' });

export const replaySectionSchema = z
  .strictObject({
    store: z.enum(['memory', 'sqlite', 'redis'], { error: 'expected memory, sqlite or redis' }).default('memory'),
    capacity: z.number().int().min(1).max(100_000_000).optional(),
    path: z.string().min(1).optional(),
    fsync: z.boolean().optional(),
    url: z
      .string()
      .regex(/^rediss?:\/\//, { message: 'expected a redis:// or rediss:// URL' })
      .optional(),
    prefix: z.string().min(1).max(200).optional(),
    timeout: ms.optional(),
  })
  .superRefine((s, ctx) => {
    const only = (field: 'capacity' | 'path' | 'fsync' | 'url' | 'prefix', store: string) => {
      if (s[field] !== undefined && s.store !== store) ctx.addIssue({ code: 'custom', path: [field], message: `only for store ${store}` });
    };
    only('capacity', 'memory');
    only('path', 'sqlite');
    only('fsync', 'sqlite');
    only('url', 'redis');
    only('prefix', 'redis');
    if (s.store === 'sqlite' && s.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'store sqlite needs a path' });
    if (s.store === 'redis' && s.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'store redis needs a url' });
  });

export type ReplaySection = z.infer<typeof replaySectionSchema>;
