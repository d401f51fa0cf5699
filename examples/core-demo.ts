/**
 * The token core end to end, with no LangChain: an authority issues a token
 * to a support agent, the agent delegates a read-only child to a summarizer,
 * and a verifier decides on a series of calls. Run: `npm run demo:core`.
 */
import { createInvocation, delegate, generateKey, inspect, issueToken, Verifier, type Decision } from '../src/index.ts';

const authority = generateKey();
const agentKey = generateKey();
const summarizerKey = generateKey();

const token = issueToken({
  key: authority,
  subject: 'agent:support',
  holder: agentKey.publicKey,
  grants: [
    { resource: 'tickets://acme/*', permissions: ['read', 'write'] },
    { resource: 'mail://acme.example/*', permissions: ['send'], constraints: { to: { type: 'glob', pattern: '*@acme.example' } } },
  ],
  ttl: '1h',
  maxDepth: 1,
});
const child = delegate(token, { key: agentKey, to: summarizerKey.publicKey, subject: 'agent:summarizer', permissions: ['read'], ttl: '10m' });

console.log(`authority kid ${inspect(token).kid}; root token ${token.bytes.length} bytes, child ${child.bytes.length} bytes`);
const verifier = new Verifier({ trusted: [authority.publicKey] });

function show(label: string, d: Decision): void {
  const verdict = d.allowed ? 'ALLOWED' : `DENIED  ${d.code}`;
  console.log(`${verdict.padEnd(34)} ${label}${d.allowed ? '' : `\n${' '.repeat(35)}${d.reason}`}`);
}

show(
  'agent reads ticket 42 (in process)',
  await verifier.authorize(token, {
    tool: 'get_ticket',
    operation: 'read',
    resource: 'tickets://acme/42',
    args: { id: 42 },
    callId: 'call-1',
  }),
);
show(
  'same call id again (replay)',
  await verifier.authorize(token, {
    tool: 'get_ticket',
    operation: 'read',
    resource: 'tickets://acme/42',
    args: { id: 42 },
    callId: 'call-1',
  }),
);
show(
  'agent mails a customer',
  await verifier.authorize(token, {
    tool: 'send_email',
    operation: 'send',
    resource: 'mail://acme.example/outbound',
    args: { to: 'bob@acme.example' },
    callId: 'call-2',
  }),
);
show(
  'agent mails an outside address',
  await verifier.authorize(token, {
    tool: 'send_email',
    operation: 'send',
    resource: 'mail://acme.example/outbound',
    args: { to: 'exfil@evil.example' },
    callId: 'call-3',
  }),
);
show(
  'path traversal in the resource',
  await verifier.authorize(token, {
    tool: 'get_ticket',
    operation: 'read',
    resource: 'tickets://acme/%2e%2e/admin',
    args: {},
    callId: 'call-4',
  }),
);
show(
  'summarizer reads ticket 42',
  await verifier.authorize(child, {
    tool: 'get_ticket',
    operation: 'read',
    resource: 'tickets://acme/42',
    args: { id: 42 },
    callId: 'call-5',
  }),
);
show(
  'summarizer tries to write',
  await verifier.authorize(child, {
    tool: 'update_ticket',
    operation: 'write',
    resource: 'tickets://acme/42',
    args: { id: 42 },
    callId: 'call-6',
  }),
);

// Across a process boundary the holder signs each call.
const proof = createInvocation(child, {
  key: summarizerKey,
  tool: 'get_ticket',
  operation: 'read',
  resource: 'tickets://acme/7',
  args: { id: 7 },
});
console.log(`invocation proof ${proof.bytes.length} bytes`);
show('signed call, as sent', await verifier.verifyInvocation(child, proof, { tool: 'get_ticket', args: { id: 7 } }));
show('signed call, arguments swapped', await verifier.verifyInvocation(child, proof, { tool: 'get_ticket', args: { id: 8 } }));
