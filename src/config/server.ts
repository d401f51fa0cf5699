/**
 * `capframe serve --config FILE`: the service reads the same YAML file as the
 * LangChain integration, through the same parser (src/langchain/config.ts:
 * `trust`, `audit`, `tools`, ... and the `server:` section, whose schema is in
 * src/server/schema.ts). Every mistake, in `server:` too, is an ERR_CONFIG
 * naming the file, the line and the field. This module applies the section's
 * defaults when it is absent, resolves its paths against the config file's
 * directory and reads the admin secret (env var or file).
 */
import { resolveRevocationSection, type ResolvedRevocation } from './revocation.ts';
import { resolveAuthoritySection, type ResolvedAuthority } from './authority.ts';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import { parseConfig, type CapframeConfig } from './parse.ts';
import { serverSectionSchema, type ServerSection } from './server-section.ts';
import { resolveExportPaths, type ExportEntry } from './export.ts';

export { serverSectionSchema, type ServerSection } from './server-section.ts';

export interface ServerConfig {
  readonly file: string;
  readonly server: ServerSection;
  /** Resolved against the config file's directory. */
  readonly auditPath?: string;
  /** Private key file that signs audit checkpoints, resolved against the config file's directory. */
  readonly auditCheckpointKeyFile?: string;
  /** `server.audit.export`, paths resolved. */
  readonly auditExport?: readonly ExportEntry[];
  /** The session key file (server.sessions.keyFile), resolved against the config file's directory. */
  readonly sessionKeyPath?: string;
  /** Resolved revocation paths. */
  readonly revocation?: ResolvedRevocation;
  /** The authority section (enrolment and token issuance), paths resolved; absent: off. */
  readonly authority?: ResolvedAuthority;
  /** The admin secret, when configured (never logged). */
  readonly adminSecret?: string;
  readonly base: CapframeConfig;
}

const err = (m: string) => new ConfigError(m);
export const DEFAULT_ADMIN_SECRET_ENV = 'CAPFRAME_ADMIN_SECRET';

/** Parses config text with a `server:` section. Throws ERR_CONFIG naming the file, line and field. */
export function parseServerConfig(
  text: string,
  options: { file?: string; baseDir?: string; env?: Readonly<Record<string, string | undefined>> } = {},
): ServerConfig {
  const file = options.file ?? 'capframe.yaml';
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ?? process.env;
  const base = parseConfig(text, { file, baseDir, env });
  const server = base.server ?? serverSectionSchema.parse({});
  /** `file:line server.FIELD`, for the two checks that need the environment or the disk. */
  const where = (field: string): string => `${file}:${keyLine(text, field)} server${field ? '.' + field : ''}`;
  let adminSecret: string | undefined;
  if (server.adminSecretFile) {
    const p = resolve(baseDir, server.adminSecretFile);
    try {
      adminSecret = readFileSync(p, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (e) {
      throw err(`${where('adminSecretFile')}: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    const v = env[server.adminSecretEnv ?? DEFAULT_ADMIN_SECRET_ENV];
    if (v) adminSecret = v.trim();
  }
  if (adminSecret !== undefined && adminSecret.length < 16) {
    throw err(`${where(server.adminSecretFile ? 'adminSecretFile' : '')}: the admin secret must be at least 16 characters`);
  }
  return Object.freeze({
    file,
    server,
    ...(server.audit ? { auditPath: resolve(baseDir, server.audit.path) } : {}),
    ...(server.audit?.export ? { auditExport: resolveExportPaths(server.audit.export, baseDir) } : {}),
    ...(server.audit?.checkpoint ? { auditCheckpointKeyFile: resolve(baseDir, server.audit.checkpoint.keyFile) } : {}),
    ...(server.sessions ? { sessionKeyPath: resolve(baseDir, server.sessions.keyFile) } : {}),
    ...(adminSecret ? { adminSecret } : {}),
    ...(server.revocation ? { revocation: resolveRevocationSection(server.revocation, baseDir) } : {}),
    ...(server.authority ? { authority: resolveAuthoritySection(server.authority, baseDir) } : {}),
    base,
  });
}

/** Line of `server.FIELD` (or of `server:` itself when FIELD is '' or absent) in config text; 1 when there is none. */
function keyLine(text: string, field: string): number {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const pairOf = (node: unknown, key: string) => (isMap(node) ? node.items.find((p) => isScalar(p.key) && String(p.key.value) === key) : undefined);
  const section = pairOf(doc.contents, 'server');
  const pair = (field ? pairOf(section?.value, field) : undefined) ?? section;
  const start = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
  return start === undefined ? 1 : lines.linePos(start).line;
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
