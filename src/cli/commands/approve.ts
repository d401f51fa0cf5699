/** `capframe approve`: an approver signs the call of an approval request (docs/spec.md §15.5). */
import { approveRequest } from '../../authority/approve.ts';
import { keySigner } from '../../crypto/signer.ts';
import { MalformedError } from '../../errors.ts';
import { MAX_APPROVAL_LIFETIME } from '../../token/approval.ts';
import type { Io } from '../command.ts';
import { durationFlag, parseFlags, UsageError } from '../args.ts';
import { readInput, readPrivateKey, writeCredential } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { key: { type: 'string' }, request: { type: 'string' }, ttl: { type: 'string' }, out: { type: 'string' } });
  const key = readPrivateKey(io, f.required('key'));
  const text = readInput(io, f.required('request'), 'approval request', 256 * 1024);
  const ttlText = f.string('ttl');
  const ttl = ttlText === undefined ? undefined : durationFlag('ttl', ttlText);
  if (ttl !== undefined && ttl > MAX_APPROVAL_LIFETIME) throw new UsageError(`--ttl: an approval lives at most ${MAX_APPROVAL_LIFETIME}s`);
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch {
    throw new MalformedError('the approval request is not JSON');
  }
  const approval = await approveRequest(keySigner(key), request, ttl !== undefined ? { ttl } : {});
  const p = approval.payload;
  // What was approved, by digest: the arguments stay out of terminals and logs.
  io.stderr(
    `approved ${p.tool} ${p.operation} ${p.resource} (call ${p.callId}, arguments ${Buffer.from(p.args).toString('hex')}) until ${new Date(p.exp * 1000).toISOString()}\n`,
  );
  writeCredential(io, f.string('out'), approval.toString());
  return 0;
}
