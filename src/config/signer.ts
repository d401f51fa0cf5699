/**
 * Where a `server:` section's signing key is: `keyFile: PATH` (a capframe
 * key file) or `signer: URI` (file:, pkcs11:, awskms:, gcpkms:; see
 * src/crypto/signers/from-uri.ts), exactly one. The URI is checked when the
 * config loads (nothing read, nothing connected); relative paths in it
 * (file:, pin-source=file:) resolve against the config file's directory.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseSignerUri } from '../crypto/signers/from-uri.ts';

export const signerUriSchema = z.string().transform((v, ctx) => {
  try {
    parseSignerUri(v);
    return v;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** A section's signer URI and the directory its relative paths resolve against. */
export interface ResolvedSigner {
  readonly uri: string;
  readonly cwd: string;
}

export function oneSigner(s: { keyFile?: string | undefined; signer?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((s.keyFile === undefined) === (s.signer === undefined)) {
    ctx.addIssue({
      code: 'custom',
      message: 'give keyFile (a key file) or signer (a signer URI), one of them',
      path: [s.signer === undefined ? 'keyFile' : 'signer'],
    });
  }
}

export function resolveSigner(
  s: { keyFile?: string | undefined; signer?: string | undefined },
  baseDir: string,
): { keyFile?: string; signer?: ResolvedSigner } {
  if (s.signer !== undefined) return { signer: Object.freeze({ uri: s.signer, cwd: baseDir }) };
  return s.keyFile !== undefined ? { keyFile: resolve(baseDir, s.keyFile) } : {};
}
