// End to end: a LangChain createAgent loop (fakeModel) whose guard is built from a config with `remote:` and a
// pinned service key, so every non-attested call goes over a session; an attested tool keeps its signed proof.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AIMessage, createAgent, fakeModel, tool, type ToolMessage } from 'langchain';
import { z } from 'zod';
import { RevokedError } from '../../src/errors.ts';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { Guard, guardTools, memorySink } from '../../src/langchain/index.ts';
import { createVerifyService, type VerifyService } from '../../src/server/index.ts';
import type { RemoteVerifier } from '../../src/remote/client.ts';
import type { Chain } from '../../src/token/chain.ts';

test('createAgent over sessions: allowed, denied with the right codes, service restart with no failed call, revocation denies the next call', async () => {
  const authority = generateKey();
  const holder = generateKey();
  const serviceKey = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:support',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read', 'sign'] }],
  });
  const revoked = new Set<string>();
  const verifier = new Verifier({
    trusted: [authority.publicKey],
    revocation: {
      check(chain: Chain) {
        if (chain.ids.some((id) => revoked.has(id))) throw new RevokedError('token revoked');
      },
    },
  });
  const serviceEvents: Record<string, unknown>[] = [];
  let service: VerifyService;
  const start = (port = 0) => {
    service = createVerifyService({ verifier, audit: (e) => void serviceEvents.push(e), sessions: { signer: keySigner(serviceKey) } });
    return service.listen(port);
  };
  const { url, port } = await start();
  const config = parseConfig(
    [
      'trust:',
      `  authorities: [${formatPublicKey(authority.publicKey)}]`,
      'tools:',
      '  get_ticket: { resource: "tickets://acme/{id}", operation: read }',
      '  delete_ticket: { resource: "tickets://acme/{id}", operation: delete }',
      '  get_mail: { resource: "mail://acme/{id}", operation: read }',
      '  sign_ticket: { resource: "tickets://acme/{id}", operation: sign, attested: true }',
      'remote:',
      `  url: ${url}`,
      `  serviceKey: ${formatPublicKey(serviceKey.publicKey)}`,
    ].join('\n'),
  );
  const sink = memorySink();
  const guard = new Guard({ config, sink });
  const ran: string[] = [];
  const mk = (name: string, after?: (id: string) => Promise<void>) =>
    tool(
      async ({ id }: { id: string }) => {
        ran.push(`${name}:${id}`);
        await after?.(id);
        return `${name} ${id}`;
      },
      { name, description: name, schema: z.object({ id: z.string() }) },
    );
  const tools = guardTools(
    [
      mk('get_ticket', async (id) => {
        if (id === 'restart') {
          // The service restarts between two calls: its sessions are gone.
          await service.close();
          await start(port);
        }
        if (id === 'revoke') revoked.add(verifier.verifyToken(token).ids[0]!);
      }),
      mk('delete_ticket'),
      mk('get_mail'),
      mk('sign_ticket'),
    ],
    guard,
  );
  const calls = [
    [{ name: 'get_ticket', args: { id: '1' }, id: 't1' }],
    [
      { name: 'delete_ticket', args: { id: '1' }, id: 't2' },
      { name: 'get_mail', args: { id: '9' }, id: 't3' },
    ],
    [{ name: 'sign_ticket', args: { id: '1' }, id: 't4' }],
    [{ name: 'get_ticket', args: { id: 'restart' }, id: 't5' }],
    [{ name: 'get_ticket', args: { id: '2' }, id: 't6' }],
    [{ name: 'get_ticket', args: { id: 'revoke' }, id: 't7' }],
    [{ name: 'get_ticket', args: { id: '3' }, id: 't8' }],
  ];
  let model = fakeModel();
  for (const c of calls) model = model.respondWithTools(c);
  const agent = createAgent({ model: model.respond(new AIMessage('done')), tools });
  try {
    const out = await agent.invoke({ messages: [{ role: 'user', content: 'help' }] }, { configurable: { capframe: { token, holderKey: holder } } } as never);
    assert.equal(out.messages.at(-1)!.content, 'done');
    const msgs = out.messages.filter((m: { getType(): string }) => m.getType() === 'tool') as ToolMessage[];
    const code = (m: ToolMessage) => (m.status === 'error' ? (m.artifact as { capframe: { code: string } }).capframe.code : 'OK');
    assert.deepEqual(
      msgs.map((m) => [m.tool_call_id, code(m)]),
      [
        ['t1', 'OK'],
        ['t2', 'ERR_SCOPE_PERMISSION'],
        ['t3', 'ERR_SCOPE_RESOURCE'],
        ['t4', 'OK'],
        ['t5', 'OK'],
        ['t6', 'OK'],
        ['t7', 'OK'],
        ['t8', 'ERR_REVOKED'],
      ],
    );
    assert.deepEqual(ran, ['get_ticket:1', 'sign_ticket:1', 'get_ticket:restart', 'get_ticket:2', 'get_ticket:revoke']);
    const rv = guard.verifier as RemoteVerifier;
    assert.equal(rv.sessions, true);
    // The call after the restart was retried once with a new session, and nothing failed.
    assert.equal(rv.sessionStats.retries, 1);
    assert.equal(rv.sessionStats.handshakes, 2);
    // The audit lines say which path decided: the attested tool's is a signed proof, the others sessions.
    const byCall = new Map(sink.events.map((e) => [e.callId, e.mode]));
    assert.equal(byCall.get('t4'), 'signed');
    for (const id of ['t1', 't2', 't3', 't5', 't6', 't7', 't8']) assert.equal(byCall.get(id), 'session', id);
    assert.ok(serviceEvents.some((e) => e.mode === 'signed' && e.callId === 't4'));
    assert.ok(serviceEvents.some((e) => e.mode === 'session' && e.callId === 't6' && e.allowed === true));
  } finally {
    await (guard.verifier as RemoteVerifier).close();
    await service!.close();
  }
});
