/** `capframe pubkey KEYFILE`: the public key of a private key file, for keys made before keygen wrote NAME.pub. */
import { formatPublicKey } from '../../crypto/keys.ts';
import type { Io } from '../command.ts';
import { parseFlags } from '../args.ts';
import { readPrivateKey, writePublicKeyFile } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { out: { type: 'string' }, force: { type: 'boolean' } }, { min: 1, max: 1 });
  const publicKey = formatPublicKey(readPrivateKey(io, f.positionals[0]!, 'KEYFILE').publicKey);
  const out = f.string('out');
  if (out === undefined || out === '-') io.stdout(publicKey + '\n');
  else writePublicKeyFile(io, out, publicKey, f.bool('force'));
  return 0;
}
