/** `capframe verify`: checks a signed invocation proof against a token and the call. */
import { Keyring } from '../../verify/keyring.ts';
import { Verifier, type Decision, type RevocationCheck } from '../../verify/verifier.ts';
import type { Io } from '../command.ts';
import { decisionToJson } from '../../remote/decision-json.ts';
import { integerFlag, parseFlags, parseJsonArgs, UsageError } from '../args.ts';
import { readArgsText, readInput, readPublicKeys } from '../files.ts';
import { readInvocationText, readTokenText } from '../token-files.ts';

export function decisionLine(d: Decision): string {
  if (!d.allowed) return `denied: ${d.code}: ${d.reason}`;
  return (
    `allowed: ${d.subject} may ${d.operation} ${d.resource} with tool ${d.tool} ` +
    `(grant ${d.grant.resource}:${d.grant.permissions.join(',')}; call ${d.callId}; ` +
    `token expires ${new Date(d.expiresAt * 1000).toISOString()})`
  );
}

/** `--revocations FILE`: a signed snapshot (docs/spec.md §10), loaded only when asked for. */
async function loadRevocations(io: Io, path: string, keyring: Keyring): Promise<RevocationCheck> {
  const text = readInput(io, path, '--revocations file', 64 * 1024 * 1024);
  const { loadSnapshotCheck } = await import('../../revocation/state.ts');
  return loadSnapshotCheck(text, keyring, {});
}

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    token: { type: 'string' },
    invocation: { type: 'string' },
    trust: { type: 'string', multiple: true },
    tool: { type: 'string' },
    args: { type: 'string' },
    op: { type: 'string' },
    resource: { type: 'string' },
    skew: { type: 'string' },
    revocations: { type: 'string' },
    json: { type: 'boolean' },
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
  for (const t of trust) for (const k of readPublicKeys(io, t, 'trust', 'refuse')) keyring.add(k);
  const verifier = new Verifier({ trusted: keyring, ...(clockSkew !== undefined ? { clockSkew } : {}) });
  if (revocations !== undefined) verifier.revocation = await loadRevocations(io, revocations, keyring);

  const decision = await verifier.verifyInvocation(tokenText, invocationText, {
    tool,
    args,
    ...(operation !== undefined ? { operation } : {}),
    ...(resource !== undefined ? { resource } : {}),
  });
  io.stdout((json ? JSON.stringify(decisionToJson(decision)) : decisionLine(decision)) + '\n');
  return decision.allowed ? 0 : 1;
}
