/** `capframe issue`: the authority signs a root token. */
import { issueToken } from '../../authority/issue.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Command } from '../command.ts';
import { durationFlag, EXIT_HELP, GRANT_HELP, integerFlag, parseFlags, parseGrants, TOKEN_FLAGS, UsageError } from '../args.ts';
import { readPrivateKey, readPublicKey, writeOutput } from '../files.ts';

export const issue: Command = {
  name: 'issue',
  summary: 'issue a root token signed by an authority key',
  usage: `Usage: capframe issue --key AUTH_KEY --sub ID --holder PUBKEY_OR_KEYFILE
                      --grant 'RESOURCE:perm1,perm2' [--grant ...] [--constraint ...]
                      --ttl 1h [--max-depth N] [--out FILE]

Issues a root token signed by the authority's private key and prints its text
form (cft1....), or writes it to FILE.

Options:
  --key FILE          the authority's private key file (from capframe keygen)
  --sub ID            the subject: the agent's identity, e.g. agent:support
  --holder KEY        the agent's public key: cfk1.... text or a key file
  --grant, --constraint   see Grants below (at least one --grant)
  --ttl DURATION      lifetime: 30s, 10m, 1h, 7d or seconds
  --max-depth N       how many further delegations are allowed (default 0: none)
  --out FILE          write the token to FILE instead of printing it
  -h, --help          show this help

${GRANT_HELP}

${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, { ...TOKEN_FLAGS, holder: { type: 'string' } });
    const keyPath = f.required('key');
    const subject = f.required('sub');
    const holderArg = f.required('holder');
    const grantTexts = f.list('grant');
    if (grantTexts.length === 0) throw new UsageError('at least one --grant is required');
    const grants = parseGrants(grantTexts, f.list('constraint'), f.list('tools'), f.bool('closed'));
    const ttl = durationFlag('ttl', f.required('ttl'));
    const depth = f.string('max-depth');
    const maxDepth = depth === undefined ? 0 : integerFlag('max-depth', depth, LIMITS.maxDepth);
    const token = issueToken({
      key: readPrivateKey(io, keyPath),
      subject,
      holder: readPublicKey(io, holderArg, 'holder'),
      grants,
      ttl,
      maxDepth,
    });
    writeOutput(io, f.string('out'), token.toString());
    return 0;
  },
};
