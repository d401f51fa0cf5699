/** `capframe verify`: checks a signed invocation proof against a token and the call. */
import { Keyring } from '../../verify/keyring.ts';
import { Verifier, type Decision, type RevocationCheck } from '../../verify/verifier.ts';
import type { Command, Io } from '../command.ts';
import { decisionToJson } from '../../remote/wire.ts';
import { EXIT_HELP, integerFlag, parseFlags, parseJsonArgs, UsageError } from '../args.ts';
import { readArgsText, readInput, readInvocationText, readPublicKeys, readTokenText } from '../files.ts';

export function decisionLine(d: Decision): string {
  if (!d.allowed) return `denied: ${d.code}: ${d.reason}`;
  return `allowed: ${d.subject} may ${d.operation} ${d.resource} with tool ${d.tool} ` +
    `(grant ${d.grant.resource}:${d.grant.permissions.join(',')}; call ${d.callId}; ` +
    `token expires ${new Date(d.expiresAt * 1000).toISOString()})`;
}

/** `--revocations FILE`: a signed snapshot (docs/spec.md §10), loaded only when asked for. */
async function loadRevocations(io: Io, path: string, keyring: Keyring): Promise<RevocationCheck> {
  const text = readInput(io, path, '--revocations file', 64 * 1024 * 1024);
  const { loadSnapshotCheck } = await import('../../revocation/state.ts');
  return loadSnapshotCheck(text, keyring, {});
}

export const verify: Command = {
  name: 'verify',
  summary: 'verify a signed invocation proof against a token (exit 0 allowed, 1 denied)',
  usage: `Usage: capframe verify --token FILE --invocation FILE --trust PUBKEY_OR_FILE [--trust ...]
                       --tool NAME --args JSON [--op PERM] [--resource URI]
                       [--skew SECONDS] [--revocations FILE] [--json]

Verifies the token's chain against the trusted authority keys, the invocation
proof's signature by the token's holder, that the proof matches the call
(tool, arguments, and --op/--resource when given) and the call rules (scope,
constraints, expiry). Prints one line, or with --json one JSON object:
  {"allowed": true, "mode", "tool", "operation", "resource", "callId",
   "argsDigest", "subject", "chainIds", "grant", "expiresAt"}       exit 0
(the same JSON as the verification service's decisions)
  {"allowed": false, "code": "ERR_...", "reason": "...", ...}        exit 1
The token, the proof and the raw arguments are never printed.

Options:
  --token FILE         the token file (or its cft1.... text)
  --invocation FILE    the invocation proof file (or its cfi1.... text)
  --trust KEY          a trusted authority public key: cfk1.... text or a key
                       file (a file may list several cfk1.... lines); repeatable
  --tool NAME          the tool actually being called
  --args JSON          the arguments actually passed, a JSON object, or @FILE
  --op PERM            require the proof to name this operation
  --resource URI       require the proof to name this resource
  --skew SECONDS       clock skew tolerated on every time check (default 30)
  --revocations FILE   apply a signed revocation snapshot (revoked: ERR_REVOKED)
  --json               print the decision as JSON
  -h, --help           show this help

Note: the replay cache lives in this process only, so a one-shot verify
cannot detect a proof replayed across separate runs; use a long-lived
verifier (the library or the service) for that.

${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, {
      token: { type: 'string' }, invocation: { type: 'string' }, trust: { type: 'string', multiple: true },
      tool: { type: 'string' }, args: { type: 'string' }, op: { type: 'string' }, resource: { type: 'string' },
      skew: { type: 'string' }, revocations: { type: 'string' }, json: { type: 'boolean' },
    });
    const tokenArg = f.required('token');
    const invocationArg = f.required('invocation');
    const trust = f.list('trust');
    if (trust.length === 0) throw new UsageError('at least one --trust key is required');
    const tool = f.required('tool');
    const args = parseJsonArgs('args', readArgsText(io, f.required('args')));
    const operation = f.string('op');
    const resource = f.string('resource');
    const skewText = f.string('skew');
    const clockSkew = skewText === undefined ? undefined : integerFlag('skew', skewText, 3600);
    const revocations = f.string('revocations');
    const json = f.bool('json');

    const tokenText = readTokenText(io, tokenArg);
    const invocationText = readInvocationText(io, invocationArg);
    const keyring = new Keyring();
    for (const t of trust) for (const k of readPublicKeys(io, t, 'trust')) keyring.add(k);
    const verifier = new Verifier({ trusted: keyring, ...(clockSkew !== undefined ? { clockSkew } : {}) });
    if (revocations !== undefined) verifier.revocation = await loadRevocations(io, revocations, keyring);

    const decision = await verifier.verifyInvocation(tokenText, invocationText, {
      tool, args,
      ...(operation !== undefined ? { operation } : {}),
      ...(resource !== undefined ? { resource } : {}),
    });
    io.stdout((json ? JSON.stringify(decisionToJson(decision)) : decisionLine(decision)) + '\n');
    return decision.allowed ? 0 : 1;
  },
};
