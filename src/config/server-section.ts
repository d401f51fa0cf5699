/**
 * The `server:` section of the capframe YAML config (strict zod), read by
 * `capframe serve`. It lives here, apart from src/server/config.ts, so that
 * the one config parser (src/langchain/config.ts) can validate it with every
 * other field (file:line messages) without importing the service.
 *
 *   server:
 *     host: 127.0.0.1            # bind address (default 127.0.0.1: loopback only)
 *     port: 8787                 # 0 = any free port
 *     bodyLimit: 65536           # largest request body, bytes (1 KiB .. 1 MiB)
 *     headersTimeout: 5s         # whole request headers within this
 *     requestTimeout: 10s        # whole request (headers + body) within this
 *     keepAliveTimeout: 5s       # idle keep-alive connections closed after this
 *     maxConnections: 1024
 *     maxConnectionsPerAddress: 256   # per client address (default a quarter of maxConnections)
 *     maxStreamsPerAddress: 8         # revocation push streams per client address
 *     adminSecretEnv: CAPFRAME_ADMIN_SECRET   # env var holding the /v1/revoke bearer secret
 *     adminSecretFile: ./admin.secret         # or a file holding it (first line); at least 16 chars
 *     audit:                     # the hash-chained audit log of every /v1/verify decision
 *       path: ./capframe-audit.jsonl
 *       maxBytes: 67108864       # rotate past this size (0 = never)
 *       maxFiles: 0              # rotated files kept (0 = all)
 *       fsync: false
 *     revocation:                # serve GET /v1/revocations (+ /stream), POST /v1/revoke, and check every call
 *       db: ./authority.db       # the revocation registry (SQLite file or postgres:// URL), shared with `capframe revoke`
 *       (covers, pollInterval: see src/config/revocation.ts)
 *       keyFile: ./authority.key # authority private key FILE (capframe keygen) that signs snapshots
 *       maxAge: 300s             # a snapshot older than this fails calls closed (ERR_REVOCATION_STALE)
 *     sessions:                  # session calls (docs/spec.md §13): POST /v1/session/*
 *       keyFile: ./service.key   # the service's Ed25519 private key FILE (capframe keygen); clients pin its public key
 *       maxTtl: 3600             # longest session, seconds
 *       maxPerHolder: 64         # live sessions per holder key (a new one ends that holder's oldest)
 *       maxSessions: 100000      # live sessions in total (beyond: ERR_SESSION_LIMIT)
 *       handshakesPerSecond: 20  # per client address, burst twice that
 *     authority:                 # enrol agents and issue them short-lived tokens (src/config/authority.ts); off when absent
 *     console:                   # the web console at /ui (docs/operations.md, Console)
 *       enabled: true            # false: /ui answers 404
 *       views: login             # read-only pages: login (default: the admin login) | public (actions still need the login)
 *       sessionTtl: 8h           # a login lasts this long
 *       maxSessions: 32          # live logins (a new one ends the oldest)
 *       maxStreams: 16           # open live-decision streams
 *       publicOrigin: https://capframe.example   # behind a TLS proxy: the only Origin accepted, and Secure cookies
 *
 * Timeouts are durations (`500ms`, `5s`, `2m`) or a bare number of
 * milliseconds; they parse to milliseconds.
 */
import { z } from 'zod';
import { exportListSchema } from './export.ts';
import { parseDuration } from '../duration.ts';
import { revocationSectionSchema } from './revocation.ts';
import { authoritySectionSchema } from './authority.ts';
import { sessionsSectionSchema } from './sessions.ts';

const ms = z.union([z.string(), z.number()], { error: 'expected a duration such as 500ms, 5s or a number of milliseconds' }).transform((v, ctx) => {
  try {
    // bare numbers are milliseconds; strings take a unit (ms, s, m)
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
});

/** `server.console`; absent means every default (on, read views behind the login). */
export const consoleSectionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  views: z.enum(['login', 'public'], { error: 'expected login or public' }).default('login'),
  sessionTtl: ms.default(8 * 3600_000),
  maxSessions: z.number().int().min(1).max(10_000).default(32),
  maxStreams: z.number().int().min(1).max(1_000).default(16),
  recent: z.number().int().min(16).max(100_000).default(1024),
  publicOrigin: z
    .string()
    .regex(/^https?:\/\/[^/?#\s]+$/, 'expected an origin such as https://capframe.example (scheme and host, no path)')
    .optional(),
});

export type ConsoleSection = z.infer<typeof consoleSectionSchema>;

export const serverSectionSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8787),
    bodyLimit: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(64 * 1024),
    headersTimeout: ms.default(5_000),
    requestTimeout: ms.default(10_000),
    keepAliveTimeout: ms.default(5_000),
    maxConnections: z.number().int().min(1).max(100_000).default(1024),
    maxConnectionsPerAddress: z.number().int().min(1).max(100_000).optional(),
    maxStreamsPerAddress: z.number().int().min(1).max(10_000).optional(),
    adminSecretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    adminSecretFile: z.string().min(1).optional(),
    audit: z
      .strictObject({
        path: z.string().min(1),
        maxBytes: z
          .number()
          .int()
          .min(0)
          .default(64 * 1024 * 1024),
        maxFiles: z.number().int().min(0).default(0),
        fsync: z.boolean().default(false),
        export: exportListSchema.optional(),
        checkpoint: z
          .strictObject({
            keyFile: z.string().min(1),
            everyLines: z.number().int().min(1).max(10_000_000).default(1000),
            everySeconds: z.number().int().min(0).max(86_400).default(60),
          })
          .optional(),
      })
      .optional(),
    sessions: sessionsSectionSchema.optional(),
    revocation: revocationSectionSchema.optional(),
    authority: authoritySectionSchema.optional(),
    console: consoleSectionSchema.optional(),
  })
  .refine((s) => s.headersTimeout <= s.requestTimeout, { message: 'headersTimeout must not exceed requestTimeout', path: ['headersTimeout'] });

export type ServerSection = z.infer<typeof serverSectionSchema>;
