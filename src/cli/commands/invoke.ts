/** `capframe invoke`: the holder signs an invocation proof for one tool call. */
import { createInvocation } from '../../holder/invoke.ts';
import { LIMITS } from '../../token/limits.ts';
import type { Command } from '../command.ts';
import { durationFlag, EXIT_HELP, parseFlags, parseJsonArgs, UsageError } from '../args.ts';
import { readArgsText, readPrivateKey, readTokenText, writeOutput } from '../files.ts';

export const invoke: Command = {
  name: 'invoke',
  summary: 'sign an invocation proof for one tool call (holder signs)',
  usage: `Usage: capframe invoke --token FILE --key HOLDER_KEY --tool NAME --op PERM
                       --resource URI --args JSON [--call-id ID] [--ttl 30s] [--out FILE]

Signs an invocation proof: this token's holder calls tool NAME with operation
PERM on resource URI with these arguments. Prints its text form (cfi1....),
or writes it to FILE. The proof is bound to the token, tool, operation,
resource and argument digest; it cannot be reused for another call.

Options:
  --token FILE      the token file (or its cft1.... text)
  --key FILE        the private key of the token's holder (last block)
  --tool NAME       the tool name
  --op PERM         the one permission this call uses, e.g. read
  --resource URI    the concrete resource, e.g. database://users/accounts
  --args JSON       the call's arguments, a JSON object ('{"id": 7}'), or @FILE
  --call-id ID      a unique id for the call (default: random)
  --ttl DURATION    lifetime of the proof (default 30s, at most ${LIMITS.maxInvocationWindow}s)
  --out FILE        write the proof to FILE instead of printing it
  -h, --help        show this help

${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, {
      token: { type: 'string' }, key: { type: 'string' }, tool: { type: 'string' }, op: { type: 'string' },
      resource: { type: 'string' }, args: { type: 'string' }, 'call-id': { type: 'string' },
      ttl: { type: 'string' }, out: { type: 'string' },
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
      tool, operation, resource, args,
      ...(callId !== undefined ? { callId } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
    });
    writeOutput(io, f.string('out'), proof.toString());
    return 0;
  },
};
