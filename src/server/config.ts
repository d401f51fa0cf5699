/**
 * `capframe serve --config FILE`: the service reads the same YAML file as the
 * LangChain integration (src/langchain/config.ts: `trust`, `audit`, `tools`)
 * plus one `server:` section of its own, validated here (strict zod):
 *
 *   server:
 *     host: 127.0.0.1            # bind address (default 127.0.0.1: loopback only)
 *     port: 8787                 # 0 = any free port
 *     bodyLimit: 65536           # largest request body, bytes (1 KiB .. 1 MiB)
 *     headersTimeout: 5s         # whole request headers within this
 *     requestTimeout: 10s        # whole request (headers + body) within this
 *     keepAliveTimeout: 5s       # idle keep-alive connections closed after this
 *     maxConnections: 1024
 *     adminSecretEnv: CAPFRAME_ADMIN_SECRET   # env var holding the /v1/revoke bearer secret
 *     adminSecretFile: ./admin.secret         # or a file holding it (first line); at least 16 chars
 *     audit:                     # the hash-chained audit log of every /v1/verify decision
 *       path: ./capframe-audit.jsonl
 *       maxBytes: 67108864       # rotate past this size (0 = never)
 *       maxFiles: 0              # rotated files kept (0 = all)
 *       fsync: false
 *     revocation:                # serve GET /v1/revocations (+ /stream), POST /v1/revoke, and check every call
 *       db: ./authority.db       # the revocation registry (SQLite), shared with `capframe revoke`
 *       keyFile: ./authority.key # authority private key FILE (capframe keygen) that signs snapshots
 *       maxAge: 300s             # a snapshot older than this fails calls closed (ERR_REVOCATION_STALE)
 *
 * The rest of the file is handed to the LangChain config parser unchanged
 * (the `server:` lines blanked, so line numbers in its messages still match).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { CapframeError } from '../errors.ts';
import { parseDuration } from '../duration.ts';
import { parseConfig, type CapframeConfig } from '../langchain/config.ts';

const ms = z.union([z.string(), z.number()]).transform((v, ctx) => {
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

export const serverSectionSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  bodyLimit: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
  headersTimeout: ms.default(5_000),
  requestTimeout: ms.default(10_000),
  keepAliveTimeout: ms.default(5_000),
  maxConnections: z.number().int().min(1).max(100_000).default(1024),
  adminSecretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  adminSecretFile: z.string().min(1).optional(),
  audit: z.strictObject({
    path: z.string().min(1),
    maxBytes: z.number().int().min(0).default(64 * 1024 * 1024),
    maxFiles: z.number().int().min(0).default(0),
    fsync: z.boolean().default(false),
  }).optional(),
  revocation: z.strictObject({
    db: z.string().min(1),
    keyFile: z.string().min(1),
    maxAge: ms.optional(),
  }).optional(),
}).refine((s) => s.headersTimeout <= s.requestTimeout, { message: 'headersTimeout must not exceed requestTimeout', path: ['headersTimeout'] });

export type ServerSection = z.infer<typeof serverSectionSchema>;

export interface ServerConfig {
  readonly file: string;
  readonly server: ServerSection;
  /** Resolved against the config file's directory. */
  readonly auditPath?: string;
  /** Resolved revocation paths. */
  readonly revocation?: { readonly db: string; readonly keyFile: string; readonly maxAgeSeconds?: number };
  /** The admin secret, when configured (never logged). */
  readonly adminSecret?: string;
  readonly base: CapframeConfig;
}

const err = (m: string) => new CapframeError('ERR_CONFIG', m);
export const DEFAULT_ADMIN_SECRET_ENV = 'CAPFRAME_ADMIN_SECRET';

/** Parses config text with a `server:` section. Throws ERR_CONFIG naming the file, line and field. */
export function parseServerConfig(text: string, options: { file?: string; baseDir?: string; env?: Readonly<Record<string, string | undefined>> } = {}): ServerConfig {
  const file = options.file ?? 'capframe.yaml';
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ?? process.env;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  let rest = text;
  let serverLine = 1;
  let raw: unknown = {};
  if (doc.errors.length === 0 && isMap(doc.contents)) {
    for (const item of doc.contents.items) {
      if (!isPair(item) || !isScalar(item.key) || item.key.value !== 'server') continue;
      const start = item.key.range?.[0] ?? 0;
      const value = item.value as { range?: [number, number, number] } | null;
      const end = value?.range?.[2] ?? item.key.range?.[2] ?? start;
      serverLine = lines.linePos(start).line;
      try {
        raw = (doc.toJS({ maxAliasCount: 50 }) as { server?: unknown }).server ?? {};
      } catch (e) {
        throw err(`${file}:${serverLine} server: ${(e as Error).message}`);
      }
      // blank the section (keep newlines) so the rest parses with its own line numbers
      rest = text.slice(0, start) + text.slice(start, end).replace(/[^\n]/g, ' ') + text.slice(end);
    }
  }
  const base = parseConfig(rest, { file, baseDir, env });
  const parsed = serverSectionSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? ` (${(issue as { keys: string[] }).keys.join(', ')})` : '';
    const field = ['server', ...issue.path.map(String)].join('.');
    const node = doc.getIn(['server', ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))], true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lines.linePos(node.range[0]).line : serverLine;
    throw err(`${file}:${line} ${field}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}${keys}`);
  }
  const server = parsed.data;
  let adminSecret: string | undefined;
  if (server.adminSecretFile) {
    const p = isAbsolute(server.adminSecretFile) ? server.adminSecretFile : resolve(baseDir, server.adminSecretFile);
    try {
      adminSecret = readFileSync(p, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (e) {
      throw err(`${file}:${serverLine} server.adminSecretFile: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    const v = env[server.adminSecretEnv ?? DEFAULT_ADMIN_SECRET_ENV];
    if (v) adminSecret = v.trim();
  }
  if (adminSecret !== undefined && adminSecret.length < 16) {
    throw err(`${file}:${serverLine} server: the admin secret must be at least 16 characters`);
  }
  return Object.freeze({
    file,
    server,
    ...(server.audit ? { auditPath: isAbsolute(server.audit.path) ? server.audit.path : resolve(baseDir, server.audit.path) } : {}),
    ...(adminSecret ? { adminSecret } : {}),
    ...(server.revocation ? {
      revocation: {
        db: isAbsolute(server.revocation.db) ? server.revocation.db : resolve(baseDir, server.revocation.db),
        keyFile: isAbsolute(server.revocation.keyFile) ? server.revocation.keyFile : resolve(baseDir, server.revocation.keyFile),
        ...(server.revocation.maxAge !== undefined ? { maxAgeSeconds: Math.max(1, Math.round(server.revocation.maxAge / 1000)) } : {}),
      },
    } : {}),
    base,
  });
}

export function loadServerConfig(path: string, env?: Readonly<Record<string, string | undefined>>): ServerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw err(`${path}: cannot read the config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseServerConfig(text, { file: path, baseDir: dirname(resolve(path)), ...(env ? { env } : {}) });
}
