/** `capframe keygen --out NAME.key`: a new Ed25519 key; the private key goes only to NAME.key (0600), the public key to NAME.pub. */
import { unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatPublicKey, generateKey, kidToString } from '../../crypto/keys.ts';
import type { Io } from '../command.ts';
import { parseFlags, UsageError } from '../args.ts';
import { publicKeyPath, writePrivateKeyFile, writePublicKeyFile } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { out: { type: 'string' }, force: { type: 'boolean' } });
  const out = f.required('out');
  // A private key under a public-looking name is one careless copy away from being published.
  if (out.endsWith('.pub')) throw new UsageError(`--out names the private key file; ${JSON.stringify(out)} looks like a public key file (use NAME.key)`);
  const pub = publicKeyPath(out);
  const force = f.bool('force');
  const key = generateKey();
  const publicKey = formatPublicKey(key.publicKey);
  writePrivateKeyFile(io, out, key, force);
  try {
    writePublicKeyFile(io, pub, publicKey, force);
  } catch (e) {
    // Leave no private key behind whose public file could not be written.
    unlinkSync(resolve(io.cwd, out));
    throw e;
  }
  io.stdout(JSON.stringify({ kid: kidToString(key.kid), publicKey, publicKeyFile: pub }) + '\n');
  return 0;
}
