/** `capframe issue`: the authority signs a root token. */
import { issueToken, issueTokenWith } from '../../authority/issue.ts';
import { signerFromUri } from '../../crypto/signers/from-uri.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Io } from '../command.ts';
import { durationFlag, integerFlag, parseFlags, UsageError } from '../args.ts';
import { parseGrants, TOKEN_FLAGS } from '../grants.ts';
import { readPrivateKey, readPublicKey, readPublicKeys, writeCredential } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...TOKEN_FLAGS,
    holder: { type: 'string' },
    signer: { type: 'string' },
    approver: { type: 'string', multiple: true },
    'approval-threshold': { type: 'string' },
  });
  const keyPath = f.string('key');
  const signerUri = f.string('signer');
  if ((keyPath === undefined) === (signerUri === undefined)) throw new UsageError('give --key FILE or --signer URI (one of them)');
  const subject = f.required('sub');
  const holderArg = f.required('holder');
  const grantTexts = f.list('grant');
  if (grantTexts.length === 0) throw new UsageError('at least one --grant is required');
  const parsed = parseGrants(grantTexts, f.list('constraint'), f.list('tools'), f.bool('closed'), { rate: f.string('rate'), budget: f.string('budget') });
  // --approver (repeatable) and --approval-threshold: every grant needs M of these approvers (docs/spec.md §15).
  const approvers = f.list('approver').flatMap((a) => readPublicKeys(io, a, 'approver', 'refuse'));
  const threshold = f.string('approval-threshold');
  if (approvers.length > 0 !== (threshold !== undefined)) throw new UsageError('--approver and --approval-threshold go together');
  const grants =
    threshold === undefined
      ? parsed
      : parsed.map((g) => ({ ...g, approval: { approvers, threshold: integerFlag('approval-threshold', threshold, approvers.length) } }));
  const ttl = durationFlag('ttl', f.required('ttl'));
  const depth = f.string('max-depth');
  const maxDepth = depth === undefined ? 0 : integerFlag('max-depth', depth, LIMITS.maxDepth);
  const options = { subject, holder: readPublicKey(io, holderArg, 'holder'), grants, ttl, maxDepth };
  let token;
  if (keyPath !== undefined) token = issueToken({ key: readPrivateKey(io, keyPath), ...options });
  else {
    const signer = await signerFromUri(signerUri!, { cwd: io.cwd, env: io.env });
    try {
      token = await issueTokenWith(signer, options);
    } finally {
      signer.close?.();
    }
  }
  writeCredential(io, f.string('out'), token.toString());
  return 0;
}
