/**
 * The revocation section of the capframe YAML config (strict zod), read by
 * `capframe serve`:
 *
 *   revocation:
 *     db: ./authority.db        # SQLite file (relative to the config file), shared with `capframe revoke`,
 *                               # or postgres://user@host:5432/db?schema=capframe (several replicas)
 *     keyFile: ./authority.key  # authority private key FILE that signs snapshots (must be trusted)
 *     signer: 'pkcs11:…'        # or a signer URI (file:, pkcs11:, awskms:, gcpkms:; docs/authority.md): one of the two
 *     maxAge: 300s              # a snapshot older than this fails calls closed (ERR_REVOCATION_STALE)
 *     covers: [CE-g722ykZw]     # key ids (or cfk1. keys) whose chains this registry's snapshots
 *                               # speak for; default: every trusted authority key
 *     pollInterval: 1s          # PostgreSQL: version poll beside LISTEN/NOTIFY (0 = off; then a replica
 *                               # cut off from PostgreSQL cannot tell, and keeps signing its last list)
 */
import { z } from 'zod';
import { resolve } from 'node:path';
import { parseDuration } from '../duration.ts';
import { isPostgresUrl } from '../revocation/open-registry.ts';
import { oneSigner, resolveSigner, signerUriSchema, type ResolvedSigner } from './signer.ts';

const durationMs = (allowZero: boolean) =>
  z.union([z.string(), z.number()], { error: 'expected a duration such as 500ms, 5s or a number of milliseconds' }).transform((v, ctx) => {
    try {
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v) || v < (allowZero ? 0 : 1))
          throw new Error(`expected a ${allowZero ? 'non-negative' : 'positive'} whole number of milliseconds`);
        return v;
      }
      const m = /^\s*(\d{1,7})\s*ms\s*$/.exec(v);
      return m ? Number(m[1]) : parseDuration(v) * 1000;
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

export const revocationSectionSchema = z
  .strictObject({
    db: z.string().min(1),
    keyFile: z.string().min(1).optional(),
    signer: signerUriSchema.optional(),
    maxAge: durationMs(false).optional(),
    covers: z.array(z.string().min(1)).min(1).optional(),
    pollInterval: durationMs(true).optional(),
  })
  .superRefine(oneSigner);

export type RevocationSection = z.infer<typeof revocationSectionSchema>;

/** The section with paths resolved against the config file's directory (a PostgreSQL URL stays as it is). */
export interface ResolvedRevocation {
  readonly db: string;
  /** The key file, resolved; or `signer`. */
  readonly keyFile?: string;
  /** A signer URI and the directory its relative paths resolve against (the config file's). */
  readonly signer?: ResolvedSigner;
  readonly maxAgeSeconds?: number;
  readonly covers?: readonly string[];
  readonly pollMs?: number;
}

export function resolveRevocationSection(r: RevocationSection, baseDir: string): ResolvedRevocation {
  return {
    db: isPostgresUrl(r.db) ? r.db : resolve(baseDir, r.db),
    ...resolveSigner(r, baseDir),
    ...(r.maxAge !== undefined ? { maxAgeSeconds: Math.max(1, Math.round(r.maxAge / 1000)) } : {}),
    ...(r.covers !== undefined ? { covers: r.covers } : {}),
    ...(r.pollInterval !== undefined ? { pollMs: r.pollInterval } : {}),
  };
}
