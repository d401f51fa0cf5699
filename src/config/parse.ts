/**
 * The capframe YAML config (see capframe.config.example.yaml), the one
 * config of the whole product: each section's schema lives in its own module
 * (trust, tools, audit, remote, server-section), read by its consumer. Parsed with `yaml` (line numbers kept), validated with `zod` (strict:
 * unknown keys are errors). Every problem is a CapframeError `ERR_CONFIG`
 * whose message names the file, the line and the field, e.g.
 *
 *   capframe.yaml:14 tools.send_email.resource: unknown argument "recipient"
 *
 * Private keys never live in the config: authorities are public keys.
 *
 * The `server:` section (`capframe serve`) and the `remote:` section (a
 * Guard that asks a verification service) are validated here like every
 * other field and exposed as `server` / `remote` on the parsed config.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { parsePublicKey, PUBLIC_KEY_PREFIX } from '../crypto/keys.ts';
import { LIMITS } from '../token/limits.ts';
import { auditSectionSchema, type AuditSinkKind } from './audit.ts';
import { resolveExportPaths, type ExportEntry } from './export.ts';
import { configError, interpolate, seconds } from './common.ts';
import { remoteConfigSchema, type RemoteConfig } from './remote.ts';
import { serverSectionSchema, type ServerSection } from './server-section.ts';
import { compilePolicy, RESERVED_ARGUMENT, toolSchema, type PolicySource, type ToolPolicy, type ToolPolicySpec } from './tools.ts';
import { readAuthorityFile, trustSectionSchema } from './trust.ts';
import { replaySectionSchema, type ReplaySection } from './replay.ts';
import { mcpSectionSchema, type McpSection } from './mcp.ts';
import { compileSubagent, subagentsSectionSchema, type SubagentEntry } from './subagents.ts';
import { approversSectionSchema, readApprovers, resolveApproverNames } from './approvers.ts';

const MAX_CONFIG_BYTES = 1024 * 1024;

export interface CapframeConfig {
  /** The file name used in messages. */
  readonly file: string;
  /** Trusted authority public keys (raw 32 bytes each). */
  readonly trusted: readonly Uint8Array[];
  readonly clockSkew?: number;
  readonly invocationWindow?: number;
  readonly replayCacheSize?: number;
  readonly audit: { readonly sink: AuditSinkKind; readonly path?: string; readonly export?: readonly ExportEntry[] };
  readonly tools: Readonly<Record<string, ToolPolicy>>;
  /** The `server:` section (`capframe serve`), defaults applied; paths as written (src/config/server.ts resolves them). */
  readonly server?: ServerSection;
  /** The `remote:` section: the Guard then verifies every call (signed) with that service. */
  readonly remote?: RemoteConfig;
  /** The `replay:` section (src/config/replay.ts); a sqlite path resolved against baseDir. */
  readonly replay?: ReplaySection;
  /** The `subagents:` section (src/config/subagents.ts): what each sub-agent type gets when delegated to. */
  readonly subagents?: Readonly<Record<string, SubagentEntry>>;
  /** The `approvers:` section (src/config/approvers.ts): approver keys (cfk1. text) by name. */
  readonly approvers?: Readonly<Record<string, string>>;
  /** The `mcp:` section (src/config/mcp.ts): MCP session settings; `server.sessions.keyFile` resolved against baseDir. */
  readonly mcp?: McpSection;
}

export interface ParseOptions {
  /** Name shown in messages. Default `capframe.yaml`. */
  file?: string;
  /** Directory that relative paths are resolved against. Default: the file's directory, else the cwd. */
  baseDir?: string;
  /** Environment for `${VAR}` in paths. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

// ---------------------------------------------------------------- schema

const fileSchema = z.strictObject({
  version: z.literal(1, { error: 'the only config version is 1' }).optional(),
  trust: trustSectionSchema,
  audit: auditSectionSchema.optional(),
  tools: z.record(z.string(), toolSchema).optional(),
  // `server:` with nothing under it is the same as no section (the service's defaults).
  server: serverSectionSchema.nullable().optional(),
  remote: remoteConfigSchema.optional(),
  replay: replaySectionSchema.optional(),
  subagents: subagentsSectionSchema.optional(),
  approvers: approversSectionSchema.optional(),
  mcp: mcpSectionSchema.optional(),
});

type FileShape = z.infer<typeof fileSchema>;

// ---------------------------------------------------------------- line mapping

type Path = readonly PropertyKey[];

class Locator {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  constructor(doc: Document, lines: LineCounter) {
    this.#doc = doc;
    this.#lines = lines;
  }
  /** Line (1-based) of the node at `path`, of its key when `key` is set, or of the nearest ancestor. */
  line(path: Path, key?: string): number {
    const p = path.map((k) => (typeof k === 'symbol' ? String(k) : k)) as (string | number)[];
    if (key !== undefined) {
      const l = this.#keyLine(p, key);
      if (l !== undefined) return l;
    }
    for (let n = p.length; n >= 0; n--) {
      const node = n === 0 ? this.#doc.contents : this.#doc.getIn(p.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (!range) continue;
      // A missing field: point at the key of its parent (`t:`), not at the parent's first child.
      if (n < p.length && n > 0 && typeof p[n - 1] === 'string')
        return this.#keyLine(p.slice(0, n - 1), String(p[n - 1])) ?? this.#lines.linePos(range[0]).line;
      return this.#lines.linePos(range[0]).line;
    }
    return 1;
  }
  #keyLine(parentPath: (string | number)[], key: string): number | undefined {
    const parent = parentPath.length === 0 ? this.#doc.contents : this.#doc.getIn(parentPath, true);
    if (!isMap(parent)) return undefined;
    for (const item of parent.items) {
      if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) return this.#lines.linePos(item.key.range[0]).line;
    }
    return undefined;
  }
}

function fieldName(path: Path): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : (s ? '.' : '') + String(k);
  return s || '(top level)';
}

class Problems {
  readonly list: { line: number; text: string }[] = [];
  constructor(
    readonly file: string,
    readonly at: Locator,
  ) {}
  add(path: Path, message: string, key?: string): void {
    const line = this.at.line(path, key);
    const field = fieldName(key === undefined ? path : [...path, key]);
    this.list.push({ line, text: `${this.file}:${line} ${field}: ${message}` });
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const sorted = [...this.list].sort((a, b) => a.line - b.line);
    const more =
      sorted.length > 1
        ? `\n${sorted
            .slice(1)
            .map((p) => p.text)
            .join('\n')}`
        : '';
    throw configError(sorted[0]!.text + more);
  }
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k as string];
  }
  return v;
}

function zodMessage(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.code === 'invalid_type' && valueAt(data, issue.path) === undefined) return 'is required';
  return issue.message;
}

// ---------------------------------------------------------------- entry points

/** Parses and validates config text. Throws CapframeError ERR_CONFIG. */
export function parseConfig(text: string, options: ParseOptions = {}): CapframeConfig {
  const file = options.file ?? 'capframe.yaml';
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  if (typeof text !== 'string') throw configError(`${file}: config must be text`);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw configError(`${file}: larger than ${MAX_CONFIG_BYTES} bytes`);

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw configError(
      doc.errors
        .map((e) => {
          const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
          return `${file}:${line} ${e.message.split('\n')[0]}`;
        })
        .join('\n'),
    );
  }
  const problems = new Problems(file, new Locator(doc, lineCounter));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw configError(`${file}: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) throw configError(`${file}:1 the config is empty`);
  const toolsNode = doc.get('tools', true);
  if (isMap(toolsNode)) {
    for (const item of toolsNode.items) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      const toolName = String(item.key.value);
      if (toolName === '__proto__') problems.add(['tools'], 'reserved name, not a tool', '__proto__');
      // The schema drops a "__proto__" key of a record; a constraint written under it must not vanish silently.
      const cs = isMap(item.value) ? item.value.get('constraints', true) : undefined;
      if (isMap(cs)) {
        for (const c of cs.items) {
          if (isPair(c) && isScalar(c.key) && String(c.key.value) === '__proto__')
            problems.add(['tools', toolName, 'constraints'], RESERVED_ARGUMENT, '__proto__');
        }
      }
    }
  }
  // Approver names become keys before the grants that use them are checked.
  let approvers: Map<string, string> | undefined;
  if (typeof data === 'object' && !Array.isArray(data)) {
    const raw = data as Record<string, unknown>;
    approvers = readApprovers(raw.approvers, baseDir, env, (path, msg) => problems.add(path.slice(0, -1), msg, String(path.at(-1))));
    resolveApproverNames(raw, approvers, (path, msg) => problems.add(path, msg));
    // A name left unresolved would only be reported again, less clearly, by the grant checks.
    problems.throwIfAny();
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) problems.add(issue.path, 'unknown field', k);
      } else {
        problems.add(issue.path, zodMessage(issue, data));
      }
    }
    problems.throwIfAny();
  }
  const cfg = parsed.data as FileShape;

  // trust
  const trusted: Uint8Array[] = [];
  cfg.trust.authorities.forEach((a, i) => {
    const path = ['trust', 'authorities', i];
    try {
      if (typeof a === 'string' || 'key' in a) {
        const k = typeof a === 'string' ? a : a.key;
        if (!k.startsWith(PUBLIC_KEY_PREFIX))
          throw new Error(`an inline authority key is a ${PUBLIC_KEY_PREFIX}… public key (private keys never go in the config)`);
        trusted.push(parsePublicKey(k));
      } else {
        const p = interpolate(a.file, env);
        trusted.push(...readAuthorityFile(isAbsolute(p) ? p : resolve(baseDir, p)));
      }
    } catch (e) {
      problems.add(typeof a === 'string' ? path : [...path, 'key' in a ? 'key' : 'file'], (e as Error).message);
    }
  });
  const num = (v: string | number | undefined, field: string, max: number, min: number): number | undefined => {
    if (v === undefined) return undefined;
    try {
      return seconds(v, max, min);
    } catch (e) {
      problems.add(['trust', field], (e as Error).message);
      return undefined;
    }
  };
  const clockSkew = num(cfg.trust.clockSkew, 'clockSkew', 3600, 0);
  const invocationWindow = num(cfg.trust.invocationWindow, 'invocationWindow', LIMITS.maxInvocationWindow, 1);

  // audit
  // No `audit:` section: decisions are not written anywhere (a library never prints unasked).
  let audit: CapframeConfig['audit'] = { sink: 'none' };
  if (cfg.audit) {
    if (cfg.audit.sink === 'jsonl' && cfg.audit.path === undefined) problems.add(['audit'], 'sink jsonl needs a path', 'sink');
    if (cfg.audit.sink !== 'jsonl' && cfg.audit.path !== undefined) problems.add(['audit'], `sink ${cfg.audit.sink} takes no path`, 'path');
    let path: string | undefined;
    if (cfg.audit.path !== undefined) {
      try {
        const p = interpolate(cfg.audit.path, env);
        path = isAbsolute(p) ? p : resolve(baseDir, p);
      } catch (e) {
        problems.add(['audit', 'path'], (e as Error).message);
      }
    }
    audit = {
      sink: cfg.audit.sink,
      ...(path !== undefined ? { path } : {}),
      ...(cfg.audit.export ? { export: resolveExportPaths(cfg.audit.export, baseDir) } : {}),
    };
  }

  // tools
  const tools: Record<string, ToolPolicy> = {};
  for (const [name, spec] of Object.entries(cfg.tools ?? {})) {
    const at = problems.at;
    const lines: Record<string, number> = {
      resource: at.line(['tools', name, 'resource']),
      operation: at.line(['tools', name, 'operation']),
    };
    for (const c of Object.keys(spec.constraints ?? {})) lines[`constraints.${c}`] = at.line(['tools', name, 'constraints'], c);
    const where: PolicySource = { file, lines, line: at.line(['tools'], name) };
    const p = compilePolicy(name, spec as ToolPolicySpec, where, (field, msg) => {
      if (field === '') problems.add(['tools'], msg, name);
      else {
        const parts = field.split('.');
        const key = parts.pop()!;
        problems.add(['tools', name, ...parts], msg, key);
      }
    });
    if (p) tools[name] = p;
  }
  let replay = cfg.replay;
  if (replay?.path !== undefined) {
    try {
      replay = { ...replay, path: resolve(baseDir, interpolate(replay.path, env)) };
    } catch (e) {
      problems.add(['replay', 'path'], (e as Error).message);
    }
  }
  let mcp = cfg.mcp;
  const mcpKey = mcp?.server?.sessions?.keyFile;
  if (mcp?.server?.sessions && mcpKey !== undefined) {
    try {
      const keyFile = resolve(baseDir, interpolate(mcpKey, env));
      mcp = { ...mcp, server: { ...mcp.server, sessions: { ...mcp.server.sessions, keyFile } } };
    } catch (e) {
      problems.add(['mcp', 'server', 'sessions', 'keyFile'], (e as Error).message);
    }
  }
  let subagents: Record<string, SubagentEntry> | undefined;
  if (cfg.subagents) {
    subagents = Object.create(null) as Record<string, SubagentEntry>;
    for (const [name, spec] of Object.entries(cfg.subagents)) {
      const e = compileSubagent(name, spec, (field, msg) => {
        const parts = field === '' ? [] : field.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
        if (parts.length === 0) problems.add(['subagents'], msg, name);
        else problems.add(['subagents', name, ...parts.slice(0, -1)], msg, String(parts.at(-1)));
      });
      if (e) subagents[name] = e;
    }
  }
  problems.throwIfAny();
  return Object.freeze({
    file,
    trusted: Object.freeze(trusted),
    ...(clockSkew !== undefined ? { clockSkew } : {}),
    ...(invocationWindow !== undefined ? { invocationWindow } : {}),
    ...(cfg.trust.replayCacheSize !== undefined ? { replayCacheSize: cfg.trust.replayCacheSize } : {}),
    audit: Object.freeze(audit),
    tools: Object.freeze(tools),
    ...(cfg.server ? { server: cfg.server } : {}),
    ...(cfg.remote ? { remote: Object.freeze(cfg.remote) } : {}),
    ...(replay ? { replay: Object.freeze(replay) } : {}),
    ...(subagents ? { subagents: Object.freeze(subagents) } : {}),
    ...(mcp ? { mcp: Object.freeze(mcp) } : {}),
    ...(approvers && approvers.size > 0 ? { approvers: Object.freeze(Object.fromEntries(approvers)) } : {}),
  });
}

/** Reads and parses a config file. Relative paths inside resolve against its directory. */
export function loadConfig(path: string, options: Omit<ParseOptions, 'file'> & { file?: string } = {}): CapframeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw configError(`${path}: cannot read the config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseConfig(text, { file: options.file ?? path, baseDir: options.baseDir ?? dirname(resolve(path)), ...(options.env ? { env: options.env } : {}) });
}
