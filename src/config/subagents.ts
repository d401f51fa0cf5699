/**
 * The `subagents:` section: what each sub-agent type gets when a parent
 * agent delegates to it (capframe/deepagents, the `task` tool).
 *
 *   subagents:
 *     research:
 *       permissions: [read]              # keep the parent's grants, only these permissions
 *       ttl: 10m                         # the child expires at most 10 minutes after the call
 *     writer:
 *       grants:                          # or name the grants (each within one of the parent's)
 *         - { resource: 'files://drafts/**', permissions: [write] }
 *
 * A grant may leave out `permissions` when the entry has them; a grant that
 * names permissions may only name some of the entry's. A type with no entry
 * gets nothing (the call is denied): there is no default entry.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import { checkPermissions, checkSubject, validateGrants, type Grant } from '../token/block.ts';
import { configError, duration, int, seconds } from './common.ts';

/** A sub-agent type's delegation, as parsed. */
export interface SubagentEntry {
  /** The child token's subject. Default `subagent:NAME`. */
  readonly subject: string;
  /** Keep the parent's grants with only these permissions (when `grants` is absent). */
  readonly permissions?: readonly string[];
  /** The child's grants (each within one of the parent's). */
  readonly grants?: readonly Grant[];
  /** Lifetime of the child token in seconds (never past the parent's expiry). Absent: the parent's expiry. */
  readonly ttl?: number;
  /** Further delegations allowed below the child. Default 0. */
  readonly maxDepth: number;
}

const grantSchema = z.strictObject({
  resource: z.string({ error: 'expected a resource pattern such as "files://reports/**"' }),
  permissions: z.array(z.string()).optional(),
  constraints: z.record(z.string(), z.unknown()).optional(),
  tools: z.array(z.string()).optional(),
  closed: z.boolean().optional(),
  /** Rate limit of the child grant (docs/limits.md): at most `calls` per `per`. Needs a format-version-2 root. */
  rate: z.strictObject({ calls: z.number(), per: z.union([z.number(), z.string()]) }).optional(),
  /** Budget of the child grant (docs/limits.md): the sum of argument `arg` at most `total` (per `per`). */
  budget: z.strictObject({ arg: z.string(), total: z.union([z.string(), z.number()]), per: z.union([z.number(), z.string()]).optional() }).optional(),
  /** Approval gate of the child grant (docs/authority.md, Approvals): keys or names from `approvers:`. */
  approval: z.strictObject({ approvers: z.array(z.string()), threshold: z.number() }).optional(),
});

export const subagentSchema = z.strictObject({
  subject: z.string().optional(),
  permissions: z.array(z.string()).optional(),
  grants: z.array(grantSchema).optional(),
  ttl: duration.optional(),
  maxDepth: int.min(0).max(16).optional(),
});

/** An entry as written in YAML or code: `{ permissions: ['read'], ttl: '10m' }`. */
export type SubagentSpec = z.input<typeof subagentSchema>;

export const subagentsSectionSchema = z.record(z.string(), subagentSchema);

/** Up to 30 days: a sub-agent's token is short-lived by design. */
const MAX_TTL = 30 * 24 * 3600;

/** Compiles one entry; `report(field, message)` for each problem (field relative to the entry, '' for the entry). */
export function compileSubagent(name: string, spec: z.infer<typeof subagentSchema>, report: (field: string, msg: string) => void): SubagentEntry | undefined {
  let ok = true;
  const bad = (field: string, msg: string) => {
    ok = false;
    report(field, msg);
  };
  if (name.length === 0 || name === '__proto__') bad('', 'not a usable sub-agent name');
  let subject = `subagent:${name}`;
  try {
    subject = checkSubject(spec.subject ?? subject, InvalidArgumentError);
  } catch (e) {
    bad(spec.subject !== undefined ? 'subject' : '', (e as Error).message);
  }
  let permissions: string[] | undefined;
  if (spec.permissions !== undefined) {
    try {
      permissions = checkPermissions(spec.permissions, InvalidArgumentError);
    } catch (e) {
      bad('permissions', (e as Error).message);
    }
  }
  if (spec.permissions === undefined && spec.grants === undefined) bad('', 'give permissions, grants or both (a sub-agent gets only what it is given)');
  let grants: Grant[] | undefined;
  if (spec.grants !== undefined) {
    const written: Grant[] = [];
    spec.grants.forEach((g, i) => {
      const own = g.permissions;
      if (own === undefined && permissions === undefined) return bad(`grants.${i}.permissions`, 'is required (the entry names no permissions)');
      const extra = own && permissions ? own.filter((p) => !permissions.includes(p)) : [];
      if (extra.length > 0) return bad(`grants.${i}.permissions`, `not among the entry's permissions: ${extra.join(', ')}`);
      written.push({ ...g, permissions: own ?? permissions! } as Grant);
    });
    try {
      if (written.length === spec.grants.length) {
        validateGrants(written);
        grants = written;
      }
    } catch (e) {
      bad('grants', (e as Error).message);
    }
  }
  let ttl: number | undefined;
  if (spec.ttl !== undefined) {
    try {
      ttl = seconds(spec.ttl, MAX_TTL, 1);
    } catch (e) {
      bad('ttl', (e as Error).message);
    }
  }
  if (!ok) return undefined;
  return Object.freeze({
    subject,
    ...(grants ? { grants: Object.freeze(grants) } : permissions ? { permissions: Object.freeze(permissions) } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    maxDepth: spec.maxDepth ?? 0,
  });
}

/** An entry written in code (`{ permissions: ['read'], ttl: '10m' }`). Throws ERR_CONFIG. */
export function defineSubagent(name: string, spec: SubagentSpec): SubagentEntry {
  const errors: string[] = [];
  const parsed = subagentSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(`subagents.${name}${issue?.path.length ? '.' + issue.path.join('.') : ''}: ${issue?.message ?? 'invalid'}`);
  }
  const e = compileSubagent(name, parsed.data, (field, msg) => errors.push(`subagents.${name}${field ? '.' + field : ''}: ${msg}`));
  if (!e) throw configError(errors.join('\n'));
  return e;
}
