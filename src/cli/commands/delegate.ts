/** `capframe delegate`: the holder of a token derives a narrower child for another key. */
import { delegate as delegateToken } from '../../holder/delegate.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Io } from '../command.ts';
import { durationFlag, integerFlag, parseFlags } from '../args.ts';
import { parseBudget, parseConstraints, parseGrants, parseRate, TOKEN_FLAGS } from '../grants.ts';
import { readPrivateKey, readPublicKey, writeCredential } from '../files.ts';
import { readTokenText } from '../token-files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { ...TOKEN_FLAGS, token: { type: 'string' }, to: { type: 'string' } });
  const tokenArg = f.required('token');
  const keyPath = f.required('key');
  const toArg = f.required('to');
  const subject = f.required('sub');
  const grantTexts = f.list('grant');
  const constraintTexts = f.list('constraint');
  const limits = { rate: f.string('rate'), budget: f.string('budget') };
  const grants = grantTexts.length > 0 ? parseGrants(grantTexts, constraintTexts, f.list('tools'), f.bool('closed'), limits) : undefined;
  // Without --grant, --rate and --budget go on every grant the child keeps.
  const rate = grantTexts.length === 0 ? parseRate(limits.rate) : undefined;
  const budget = grantTexts.length === 0 ? parseBudget(limits.budget) : undefined;
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
    ...(rate ? { rate } : {}),
    ...(budget ? { budget } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(maxDepth !== undefined ? { maxDepth } : {}),
  });
  writeCredential(io, f.string('out'), child.toString());
  return 0;
}
