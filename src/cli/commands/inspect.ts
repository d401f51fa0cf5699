/** `capframe inspect FILE`: the decoded chain (or invocation proof), no secrets, signatures NOT checked. */
import { toHex } from '../../crypto/hash.ts';
import { inspect as inspectToken, type Inspection } from '../../token/inspect.ts';
import { Invocation, INVOCATION_PREFIX } from '../../token/invocation.ts';
import { decodeInvocationPayload } from '../../token/invocation-payload.ts';
import { TOKEN_PREFIX } from '../../token/token.ts';
import type { Io } from '../command.ts';
import { formatConstraint } from '../grants.ts';
import { parseFlags } from '../args.ts';
import { readInput } from '../files.ts';

const iso = (s: number) => new Date(s * 1000).toISOString();

export interface InvocationView {
  type: 'invocation';
  /** Always false: inspect does not verify. */
  verified: false;
  bytes: number;
  tool: string;
  operation: string;
  resource: string;
  callId: string;
  argsDigest: string;
  tokenTip: string;
  issuedAt: string;
  expiresAt: string;
}

function inspectInvocation(text: string): InvocationView {
  const proof = Invocation.parse(text);
  const p = decodeInvocationPayload(proof.block.payload);
  return {
    type: 'invocation',
    verified: false,
    bytes: proof.bytes.length,
    tool: p.tool,
    operation: p.operation,
    resource: p.resource,
    callId: p.callId,
    argsDigest: toHex(p.args),
    tokenTip: toHex(p.tip),
    issuedAt: iso(p.iat),
    expiresAt: iso(p.exp),
  };
}

function tokenText(v: Inspection): string {
  const lines = [
    `token  kid ${v.kid}  ${v.bytes} bytes  ${v.blocks.length} block${v.blocks.length === 1 ? '' : 's'}  expires ${v.expiresAt}`,
    '(signatures NOT verified: use capframe verify)',
  ];
  v.blocks.forEach((b, i) => {
    lines.push('', `[${i}] ${b.kind}  id ${b.id}  ${b.bytes} bytes`);
    lines.push(`    subject     ${b.subject}`);
    lines.push(`    holder      ${b.holder}`);
    b.grants.forEach((g, j) => {
      const head = j === 0 ? (b.inheritsGrants ? '    grants (inherited)' : '    grants    ') : '              ';
      lines.push(`${head}  ${g.resource}:${g.permissions.join(',')}`);
      for (const [name, c] of Object.entries(g.constraints ?? {})) lines.push(`                  where ${formatConstraint(name, c)}`);
      if (g.rate) lines.push(`                  rate ${g.rate.calls}/${g.rate.per}s`);
      if (g.budget) lines.push(`                  budget ${g.budget.arg}=${g.budget.total}${g.budget.per !== undefined ? `/${g.budget.per}s` : ' (lifetime)'}`);
    });
    if (b.issuedAt) lines.push(`    issued      ${b.issuedAt}`);
    if (b.notBefore) lines.push(`    not before  ${b.notBefore}`);
    lines.push(`    expires     ${b.expiresAt}`);
    lines.push(`    max depth   ${b.maxDepth}`);
  });
  return lines.join('\n');
}

function invocationText(v: InvocationView): string {
  return [
    `invocation  ${v.bytes} bytes  (signature NOT verified: use capframe verify)`,
    `    tool        ${v.tool}`,
    `    operation   ${v.operation}`,
    `    resource    ${v.resource}`,
    `    call id     ${v.callId}`,
    `    args digest ${v.argsDigest}`,
    `    token tip   ${v.tokenTip}`,
    `    issued      ${v.issuedAt}`,
    `    expires     ${v.expiresAt}`,
  ].join('\n');
}

function readArg(io: Io, arg: string): string {
  const a = arg.trim();
  if (a.startsWith(TOKEN_PREFIX) || a.startsWith(INVOCATION_PREFIX)) return a;
  return readInput(io, arg, 'file').trim();
}

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { json: { type: 'boolean' } }, { min: 1, max: 1 });
  const text = readArg(io, f.positionals[0]!);
  const view = text.startsWith(INVOCATION_PREFIX) ? inspectInvocation(text) : inspectToken(text);
  if (f.bool('json')) io.stdout(JSON.stringify(view, null, 2) + '\n');
  else io.stdout(('type' in view ? invocationText(view) : tokenText(view)) + '\n');
  return 0;
}
