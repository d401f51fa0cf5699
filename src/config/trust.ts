/** The `trust:` section: the authority public keys a verifier trusts, and its clock and replay settings. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parsePublicKey, PRIVATE_KEY_FILE_TYPE, PUBLIC_KEY_PREFIX } from '../crypto/keys.ts';
import { duration, int } from './common.ts';

export const authoritySchema = z.union([z.string(), z.strictObject({ key: z.string() }), z.strictObject({ file: z.string() })], {
  error: 'expected a cfk1.… public key, { key: cfk1.… } or { file: PATH }',
});

export const trustSectionSchema = z.strictObject({
  authorities: z.array(authoritySchema).min(1, { error: 'at least one trusted authority key is needed' }),
  clockSkew: duration.optional(),
  invocationWindow: duration.optional(),
  replayCacheSize: int.min(1).max(100_000_000).optional(),
});

export function readAuthorityFile(path: string): Uint8Array[] {
  const text = readFileSync(path, 'utf8').trim();
  if (text.startsWith('{')) {
    let d: { type?: unknown; publicKey?: unknown };
    try {
      d = JSON.parse(text) ?? {};
    } catch {
      throw new Error('not a key file (invalid JSON)');
    }
    if (d.type === PRIVATE_KEY_FILE_TYPE)
      throw new Error("this is a private key file; the config takes only the authority's public key (`capframe keygen` prints it)");
    if (typeof d.publicKey === 'string') return [parsePublicKey(d.publicKey)];
    throw new Error('not a key file (no "publicKey")');
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new Error('the file holds no key');
  return lines.map((l) => {
    if (!l.startsWith(PUBLIC_KEY_PREFIX)) throw new Error(`expected ${PUBLIC_KEY_PREFIX}… lines`);
    return parsePublicKey(l);
  });
}
