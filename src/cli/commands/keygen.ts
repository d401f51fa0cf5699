/** `capframe keygen --out FILE`: a new Ed25519 key; the private key goes only to FILE (mode 0600). */
import { formatPublicKey, generateKey, kidToString } from '../../crypto/keys.ts';
import type { Command } from '../command.ts';
import { EXIT_HELP, parseFlags } from '../args.ts';
import { writePrivateKeyFile } from '../files.ts';

export const keygen: Command = {
  name: 'keygen',
  summary: 'generate an Ed25519 key pair (private key file, mode 0600)',
  usage: `Usage: capframe keygen --out FILE [--force]

Generates an Ed25519 key pair. The private key is written to FILE with mode
0600 and is never printed. Prints the public half as one line of JSON:
  {"kid": "...", "publicKey": "cfk1...."}
The publicKey text (or FILE itself, or that JSON saved to a file) can be given
wherever a command takes a public key (--holder, --to, --trust).

Options:
  --out FILE   where to write the private key (refuses to replace a file)
  --force      replace FILE if it exists
  -h, --help   show this help

${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, { out: { type: 'string' }, force: { type: 'boolean' } });
    const out = f.required('out');
    const key = generateKey();
    writePrivateKeyFile(io, out, key, f.bool('force'));
    io.stdout(JSON.stringify({ kid: kidToString(key.kid), publicKey: formatPublicKey(key.publicKey) }) + '\n');
    return 0;
  },
};
