/** `capframe delegate`: the holder of a token derives a narrower child for another key. */
import { delegate as delegateToken } from '../../holder/delegate.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Command } from '../command.ts';
import { durationFlag, EXIT_HELP, GRANT_HELP, integerFlag, parseConstraints, parseFlags, parseGrants, TOKEN_FLAGS } from '../args.ts';
import { readPrivateKey, readPublicKey, readTokenText, writeOutput } from '../files.ts';

export const delegate: Command = {
  name: 'delegate',
  summary: 'derive a narrower token for another key (holder signs)',
  usage: `Usage: capframe delegate --token FILE --key HOLDER_KEY --to PUBKEY_OR_KEYFILE --sub ID
                         [--grant 'RESOURCE:perm1,perm2' ...] [--constraint ...]
                         [--ttl 10m] [--max-depth N] [--out FILE]

Appends a delegation block signed by the token's current holder and prints the
new token (cft1....), or writes it to FILE. The child can only narrow: a grant,
permission, expiry or depth wider than the parent's is refused (exit 1,
ERR_ATTENUATION or ERR_DEPTH).

Options:
  --token FILE        the parent token file (or its cft1.... text)
  --key FILE          the private key of the parent token's holder
  --to KEY            the delegate's public key: cfk1.... text or a key file
  --sub ID            the delegate's identity, e.g. agent:summarizer
  --grant, --constraint   see Grants below. Without --grant the child keeps the
                      parent's grants (plus any --constraint, added to each).
  --ttl DURATION      lifetime (30s, 10m, 1h); default: the parent's expiry.
                      It may not end after the parent's expiry.
  --max-depth N       further delegations allowed below the child
                      (default: one less than the parent)
  --out FILE          write the token to FILE instead of printing it
  -h, --help          show this help

${GRANT_HELP}

${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, { ...TOKEN_FLAGS, token: { type: 'string' }, to: { type: 'string' } });
    const tokenArg = f.required('token');
    const keyPath = f.required('key');
    const toArg = f.required('to');
    const subject = f.required('sub');
    const grantTexts = f.list('grant');
    const constraintTexts = f.list('constraint');
    const grants = grantTexts.length > 0 ? parseGrants(grantTexts, constraintTexts, f.list('tools'), f.bool('closed')) : undefined;
    const constraints = grantTexts.length === 0 ? parseConstraints(constraintTexts) : undefined;
    const ttlText = f.string('ttl');
    const ttl = ttlText === undefined ? undefined : durationFlag('ttl', ttlText);
    const depth = f.string('max-depth');
    const maxDepth = depth === undefined ? undefined : integerFlag('max-depth', depth, LIMITS.maxDepth);
    const child = delegateToken(readTokenText(io, tokenArg), {
      key: readPrivateKey(io, keyPath),
      to: readPublicKey(io, toArg, 'to'),
      subject,
      ...(grants ? { grants } : {}),
      ...(constraints ? { constraints } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      ...(maxDepth !== undefined ? { maxDepth } : {}),
    });
    writeOutput(io, f.string('out'), child.toString());
    return 0;
  },
};
