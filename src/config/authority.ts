/**
 * The `server.authority:` section (off when absent): `capframe serve` then
 * also enrols agents and issues them short-lived tokens (docs/authority.md,
 * docs/spec.md §16).
 *
 *   server:
 *     authority:
 *       audience: capframe-authority:acme   # this service's identity, signed into every request
 *       keyFile: ./authority.key            # the authority private key FILE (must be trusted)
 *       signer: 'awskms:alias/root'        # or a signer URI (file:, pkcs11:, awskms:, gcpkms:): one of the two
 *       db: ./enrolments.db                 # enrolment state (SQLite file)
 *       requestSkew: 30s                    # clock tolerance on request iat / exp
 *       codeTtl: 1h                         # lifetime of a `capframe enroll` code
 *       profiles:
 *         support:
 *           subject: "agent:support:*"      # subjects an agent of this profile may enrol as
 *           ttl: 5m                         # token lifetime (a request may ask less, never more)
 *           maxDepth: 1                     # further delegations allowed
 *           grants:                         # the token's grants, as in a token (docs/policy.md)
 *             - resource: "tickets://acme/*"
 *               permissions: [read, comment]
 *               constraints:
 *                 body: { type: length, max: 2000 }
 *
 * A profile is the YAML twin of the tool schemas: what an agent of its kind
 * may ever get. Grants are checked with the token's own rules
 * (validateGrants), so a profile that could not be issued is an ERR_CONFIG
 * naming its line.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../token/limits.ts';
import { validateGrants, type Grant } from '../token/block.ts';
import { duration, int, seconds } from './common.ts';
import { constraintSchema } from './tools.ts';
import { oneSigner, resolveSigner, signerUriSchema, type ResolvedSigner } from './signer.ts';

/** Longest token lifetime a profile may give, seconds. */
export const MAX_PROFILE_TTL = 24 * 3600;

const grantSchema = z.strictObject({
  resource: z.string({ error: 'expected a resource pattern such as "tickets://acme/*"' }),
  permissions: z.array(z.string(), { error: 'expected a list of permissions, e.g. [read]' }).min(1),
  constraints: z.record(z.string(), constraintSchema).optional(),
  tools: z.array(z.string()).optional(),
  closed: z.boolean().optional(),
  /** Calls need `threshold` signed approvals by distinct `approvers` (cfk1. keys or names from `approvers:`). */
  approval: z.strictObject({ approvers: z.array(z.string()).min(1), threshold: int }).optional(),
});

const secondsOf = (max: number, min: number) =>
  duration.transform((v, ctx) => {
    try {
      return seconds(v, max, min);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

const profileSchema = z
  .strictObject({
    subject: z.string({ error: 'expected a subject pattern such as "agent:support:*"' }).min(1).max(LIMITS.maxStringBytes),
    ttl: secondsOf(MAX_PROFILE_TTL, 1).default(300),
    maxDepth: int.min(0).max(LIMITS.maxDepth).default(0),
    grants: z.array(grantSchema, { error: 'expected a list of grants' }).min(1),
  })
  .transform((p, ctx) => {
    try {
      // The token's own checks: a profile is exactly what an issued token may carry.
      validateGrants(p.grants);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['grants'] });
      return z.NEVER;
    }
    return { ...p, grants: p.grants as Grant[] };
  });

export const authoritySectionSchema = z
  .strictObject({
    audience: z.string().min(1).max(128),
    keyFile: z.string().min(1).optional(),
    signer: signerUriSchema.optional(),
    db: z.string().min(1).default('./.capframe/enrolments.db'),
    requestSkew: secondsOf(300, 0).default(30),
    codeTtl: secondsOf(30 * 24 * 3600, 1).default(3600),
    profiles: z.record(z.string().regex(NAME, { error: `a profile name must match ${NAME}` }), profileSchema).refine((p) => Object.keys(p).length > 0, {
      message: 'at least one profile',
    }),
  })
  .superRefine(oneSigner);

export type AuthoritySection = z.infer<typeof authoritySectionSchema>;

/** One profile, checked. */
export interface Profile {
  readonly name: string;
  /** The pattern as written. */
  readonly subject: string;
  readonly ttl: number;
  readonly maxDepth: number;
  readonly grants: readonly Grant[];
}

export interface ResolvedAuthority {
  readonly audience: string;
  /** The key file, resolved; or `signer`. */
  readonly keyFile?: string;
  /** A signer URI and the directory its relative paths resolve against (the config file's). */
  readonly signer?: ResolvedSigner;
  readonly db: string;
  readonly requestSkew: number;
  readonly codeTtl: number;
  readonly profiles: Readonly<Record<string, Profile>>;
}

/** Whether `subject` matches a profile's pattern: `*` stands for one or more characters, everything else is literal. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === subject;
  if (!subject.startsWith(parts[0]!)) return false;
  let i = parts[0]!.length;
  for (let k = 1; k < parts.length; k++) {
    const part = parts[k]!;
    if (k === parts.length - 1) {
      // Each `*` takes at least one character.
      return subject.length - part.length >= i + 1 && subject.endsWith(part);
    }
    const at = subject.indexOf(part, i + 1);
    if (at === -1) return false;
    i = at + part.length;
  }
  return true;
}

export function resolveAuthoritySection(a: AuthoritySection, baseDir: string): ResolvedAuthority {
  const profiles: Record<string, Profile> = {};
  for (const [name, p] of Object.entries(a.profiles)) {
    profiles[name] = Object.freeze({ name, subject: p.subject, ttl: p.ttl, maxDepth: p.maxDepth, grants: Object.freeze([...p.grants]) });
  }
  return Object.freeze({
    audience: a.audience,
    ...resolveSigner(a, baseDir),
    db: a.db === ':memory:' ? a.db : resolve(baseDir, a.db),
    requestSkew: a.requestSkew,
    codeTtl: a.codeTtl,
    profiles: Object.freeze(profiles),
  });
}
