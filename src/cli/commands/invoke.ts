/** `capframe invoke`: the holder signs an invocation proof for one tool call. */
import { createInvocation } from '../../holder/invoke.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Io } from '../command.ts';
import { durationFlag, parseFlags, parseJsonArgs, UsageError } from '../args.ts';
import { readArgsText, readPrivateKey, writeCredential } from '../files.ts';
import { readTokenText } from '../token-files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    token: { type: 'string' },
    key: { type: 'string' },
    tool: { type: 'string' },
    op: { type: 'string' },
    resource: { type: 'string' },
    args: { type: 'string' },
    'call-id': { type: 'string' },
    ttl: { type: 'string' },
    out: { type: 'string' },
  });
  const tokenArg = f.required('token');
  const keyPath = f.required('key');
  const tool = f.required('tool');
  const operation = f.required('op');
  const resource = f.required('resource');
  const args = parseJsonArgs('args', readArgsText(io, f.required('args')));
  const callId = f.string('call-id');
  const ttlText = f.string('ttl');
  const ttl = ttlText === undefined ? undefined : durationFlag('ttl', ttlText);
  if (ttl !== undefined && ttl > LIMITS.maxInvocationWindow) throw new UsageError(`--ttl: an invocation lives at most ${LIMITS.maxInvocationWindow}s`);
  const proof = createInvocation(readTokenText(io, tokenArg), {
    key: readPrivateKey(io, keyPath),
    tool,
    operation,
    resource,
    args,
    ...(callId !== undefined ? { callId } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
  });
  writeCredential(io, f.string('out'), proof.toString());
  return 0;
}
