/** The guarded McpServer with the real SDK client, in memory: each denial answered with its code, and no side effect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createInvocation, generateKey, Verifier } from '../../src/index.ts';
import { errors } from '../../src/index.ts';
import { DENIED_CODE, META_KEY, denialOf, signCallParams, withCapframe } from '../../src/mcp/index.ts';
import { agentKey, agentToken, config, connectInMemory, ticketsServer } from './fixtures.ts';

const policy = (tool: string) => config().tools[tool]!;

/** The capframe code of a call that must be denied, asserting the shape of the JSON-RPC error. */
async function deniedCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError, `expected an McpError, got ${String(e)}`);
    assert.equal(e.code, DENIED_CODE);
    const d = denialOf(e);
    assert.ok(d, 'the error data carries the capframe denial');
    assert.ok(d.error instanceof errors.CapframeError);
    return d.code;
  }
  assert.fail('the call was not denied');
}

test('a valid signed call runs the tool; the decision event has ids and digests, never arguments or the token', async () => {
  const { server, effects, events } = ticketsServer();
  const client = await connectInMemory(server);
  const token = agentToken();
  const mcp = withCapframe(client, { token, holderKey: agentKey });
  const r = await mcp.callTool({ name: 'read_ticket', arguments: { id: '7' } });
  assert.deepEqual(r.content, [{ type: 'text', text: 'read_ticket done {"id":"7"}' }]);
  assert.deepEqual(effects, [{ tool: 'read_ticket', args: { id: '7' } }]);
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.equal(e.decision, 'allow');
  assert.equal(e.resource, 'tickets://acme/7');
  assert.equal(e.operation, 'read');
  assert.equal(e.carrier, 'meta');
  assert.equal(e.subject, 'agent:support');
  assert.match(e.argsDigest!, /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(e).includes(String(token)), 'no token in the event');
  await client.close();
});

test('no credential: ERR_MISSING_TOKEN, handler not run', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  assert.equal(await deniedCode(client.callTool({ name: 'update_ticket', arguments: { id: '7', status: 'closed' } })), 'ERR_MISSING_TOKEN');
  assert.deepEqual(effects, []);
});

test('a proof for another tool: ERR_INVOCATION_MISMATCH, handler not run', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const signed = signCallParams({ name: 'read_ticket', arguments: { id: '7' } }, policy('read_ticket'), { token: agentToken(), holderKey: agentKey });
  // Same arguments, same resource: only the tool differs.
  assert.equal(await deniedCode(client.callTool({ ...signed, name: 'delete_ticket' })), 'ERR_INVOCATION_MISMATCH');
  const forRead = signCallParams({ name: 'read_ticket', arguments: { id: '7' } }, policy('read_ticket'), { token: agentToken(), holderKey: agentKey });
  assert.equal(await deniedCode(client.callTool({ ...forRead, name: 'trimmed_read' })), 'ERR_INVOCATION_MISMATCH');
  assert.deepEqual(effects, []);
});

test('arguments changed after signing: ERR_INVOCATION_MISMATCH, handler not run', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const signed = signCallParams({ name: 'update_ticket', arguments: { id: '7', status: 'open' } }, policy('update_ticket'), {
    token: agentToken(),
    holderKey: agentKey,
  });
  assert.equal(await deniedCode(client.callTool({ ...signed, arguments: { id: '7', status: 'deleted' } })), 'ERR_INVOCATION_MISMATCH');
  assert.equal(await deniedCode(client.callTool({ ...signed, arguments: { id: '7', status: 'open', extra: 1 } })), 'ERR_INVOCATION_MISMATCH');
  assert.deepEqual(effects, []);
});

test('a widened resource: outside the token is ERR_SCOPE_RESOURCE; a proof for another resource than the template gives is ERR_INVOCATION_MISMATCH', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const token = agentToken();
  const mcp = withCapframe(client, { token, holderKey: agentKey });
  assert.equal(await deniedCode(mcp.callTool({ name: 'read_org_ticket', arguments: { org: 'globex', id: '7' } })), 'ERR_SCOPE_RESOURCE');
  // The holder signs a resource the server's template does not give for these arguments.
  const args = { id: '7' };
  const proof = createInvocation(token, { key: agentKey, tool: 'read_ticket', operation: 'read', resource: 'tickets://acme/7/attachments', args });
  const call = client.callTool({ name: 'read_ticket', arguments: args, _meta: { [META_KEY]: { token: String(token), proof: String(proof) } } });
  assert.equal(await deniedCode(call), 'ERR_INVOCATION_MISMATCH');
  assert.deepEqual(effects, []);
});

test('an expired proof: ERR_EXPIRED, handler not run', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const past = () => Math.floor(Date.now() / 1000) - 600;
  const signed = signCallParams({ name: 'read_ticket', arguments: { id: '7' } }, policy('read_ticket'), {
    token: agentToken(),
    holderKey: agentKey,
    clock: past,
  });
  assert.equal(await deniedCode(client.callTool(signed)), 'ERR_EXPIRED');
  assert.deepEqual(effects, []);
});

test('a replayed proof: the first call runs, the second is ERR_REPLAY', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const signed = signCallParams({ name: 'update_ticket', arguments: { id: '7', status: 'closed' } }, policy('update_ticket'), {
    token: agentToken(),
    holderKey: agentKey,
  });
  await client.callTool(signed);
  assert.equal(await deniedCode(client.callTool(signed)), 'ERR_REPLAY');
  assert.equal(effects.length, 1);
});

test('a revoked token: ERR_REVOKED, handler not run', async () => {
  const token = agentToken();
  const cfg = config();
  const revoked = new Set([new Verifier({ trusted: cfg.trusted }).verifyToken(token).ids[0]!]);
  const verifier = new Verifier({
    trusted: cfg.trusted,
    revocation: {
      check: (chain) => {
        if (chain.ids.some((id) => revoked.has(id))) throw new errors.RevokedError('token revoked');
      },
    },
  });
  const { server, effects } = ticketsServer({ verifier });
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token, holderKey: agentKey });
  assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '7' } })), 'ERR_REVOKED');
  assert.deepEqual(effects, []);
});

test('a proof signed by another key than the holder: ERR_SIGNATURE_INVALID', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const mine = agentToken();
  const other = generateKey();
  const theirs = agentToken({ key: other });
  const signed = signCallParams({ name: 'read_ticket', arguments: { id: '7' } }, policy('read_ticket'), { token: theirs, holderKey: other });
  const meta = signed._meta![META_KEY] as { token: string; proof: string };
  const call = client.callTool({ ...signed, _meta: { [META_KEY]: { token: String(mine), proof: meta.proof } } });
  assert.equal(await deniedCode(call), 'ERR_SIGNATURE_INVALID');
  assert.deepEqual(effects, []);
});

test('a tool without a policy: ERR_NO_SCHEMA; a token constraint still applies', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, policies: { no_policy: { resource: 'tickets://acme/x', operation: 'read' } } });
  assert.equal(await deniedCode(mcp.callTool({ name: 'no_policy', arguments: { x: '1' } })), 'ERR_NO_SCHEMA');
  assert.equal(await deniedCode(mcp.callTool({ name: 'send_email', arguments: { to: 'eve@evil.example', subject: 'hi' } })), 'ERR_CONSTRAINT');
  await mcp.callTool({ name: 'send_email', arguments: { to: 'bob@acme.example', subject: 'hi' } });
  assert.deepEqual(
    effects.map((e) => e.tool),
    ['send_email'],
  );
});

test('malformed credentials are denied, never crash: wrong types, unknown members (a session offer), garbage text', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const call = (cred: unknown) => client.callTool({ name: 'read_ticket', arguments: { id: '7' }, _meta: { [META_KEY]: cred } });
  assert.equal(await deniedCode(call('cft1.x')), 'ERR_MALFORMED');
  assert.equal(await deniedCode(call({ token: 42, proof: 'x' })), 'ERR_MALFORMED');
  assert.equal(await deniedCode(call({ token: String(agentToken()), session: 'abc' })), 'ERR_MALFORMED');
  assert.equal(await deniedCode(call({ token: 'cft1.AAAA', proof: 'cfi1.AAAA' })), 'ERR_MALFORMED');
  assert.equal(await deniedCode(call({ token: String(agentToken()), proof: 'cfi1.' + 'A'.repeat(100) })), 'ERR_MALFORMED');
  assert.deepEqual(effects, []);
});

test("the tool's schema may not change an argument the resource reads: ERR_INVOCATION_MISMATCH as a tool error, handler not run", async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey });
  const r = await mcp.callTool({ name: 'trimmed_read', arguments: { id: ' 7' } });
  assert.equal(r.isError, true);
  assert.equal(denialOf(r)?.code, 'ERR_INVOCATION_MISMATCH');
  await mcp.callTool({ name: 'trimmed_read', arguments: { id: '7' } });
  assert.deepEqual(effects, [{ tool: 'trimmed_read', args: { id: '7' } }]);
});

test("denyAs: 'result' answers a tool error result with the code in _meta", async () => {
  const { server, effects } = ticketsServer({ denyAs: 'result' });
  const client = await connectInMemory(server);
  const r = await client.callTool({ name: 'read_ticket', arguments: { id: '7' } });
  assert.equal(r.isError, true);
  assert.equal(denialOf(r)?.code, 'ERR_MISSING_TOKEN');
  assert.match((r.content as { text: string }[])[0]!.text, /^Denied by capframe \(ERR_MISSING_TOKEN\)/);
  assert.deepEqual(effects, []);
});

test('gateway fallback: the reserved argument is refused unless the server opted in; then it is removed before the handler and the digest', async () => {
  const off = ticketsServer();
  const c1 = await connectInMemory(off.server);
  const viaArgs = withCapframe(c1, { token: agentToken(), holderKey: agentKey, carrier: 'argument' });
  assert.equal(await deniedCode(viaArgs.callTool({ name: 'read_ticket', arguments: { id: '7' } })), 'ERR_MALFORMED');
  assert.deepEqual(off.effects, []);

  const on = ticketsServer({ argumentCarrier: true });
  const c2 = await connectInMemory(on.server);
  const mcp = withCapframe(c2, { token: agentToken(), holderKey: agentKey, carrier: 'argument' });
  await mcp.callTool({ name: 'update_ticket', arguments: { id: '7', status: 'open' } });
  assert.deepEqual(on.effects, [{ tool: 'update_ticket', args: { id: '7', status: 'open' } }]);
  assert.equal(on.events[0]!.carrier, 'argument');
  // Both carriers at once is ambiguous: refused.
  const both = signCallParams({ name: 'read_ticket', arguments: { id: '7' } }, policy('read_ticket'), { token: agentToken(), holderKey: agentKey });
  const cred = both._meta![META_KEY];
  assert.equal(await deniedCode(c2.callTool({ ...both, arguments: { id: '7', [META_KEY]: cred } })), 'ERR_MALFORMED');
  // The tool list says the server takes the argument carrier.
  const listed = await mcp.listTools();
  assert.equal((listed.tools.find((t) => t.name === 'read_ticket')!._meta![META_KEY] as { argumentCarrier?: boolean }).argumentCarrier, true);
  assert.equal(on.effects.length, 1);
});

test('tools/list advertises each policy; hideUnusableTools lists only what the token may use (nothing without a token)', async () => {
  const all = ticketsServer();
  const c1 = await connectInMemory(all.server);
  const listed = await c1.listTools();
  assert.equal(listed.tools.length, 7);
  assert.deepEqual(listed.tools.find((t) => t.name === 'update_ticket')!._meta, { [META_KEY]: { resource: 'tickets://acme/{id}', operation: 'write' } });
  assert.equal(listed.tools.find((t) => t.name === 'no_policy')!._meta, undefined);

  const hidden = ticketsServer({ hideUnusableTools: true });
  const c2 = await connectInMemory(hidden.server);
  assert.deepEqual((await c2.listTools()).tools, []);
  const reader = agentToken({ grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }] });
  const names = (await withCapframe(c2, { token: reader, holderKey: agentKey }).listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['read_org_ticket', 'read_ticket', 'trimmed_read']);
  const expired = agentToken({ ttl: 1 });
  await new Promise((r) => setTimeout(r, 10));
  const skewless = ticketsServer({
    hideUnusableTools: true,
    verifier: new Verifier({ trusted: config().trusted, clockSkew: 0, clock: () => Math.floor(Date.now() / 1000) + 5 }),
  });
  const c3 = await connectInMemory(skewless.server);
  assert.deepEqual((await withCapframe(c3, { token: expired, holderKey: agentKey }).listTools()).tools, []);
});

test('the client learns policies from tools/list when it has none; a local policy wins over the advertised one', async () => {
  const { server, effects } = ticketsServer();
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey });
  await mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } });
  const pinned = withCapframe(client, { token: agentToken(), holderKey: agentKey, serverPolicies: false });
  await assert.rejects(pinned.callTool({ name: 'read_ticket', arguments: { id: '1' } }), (e: unknown) => e instanceof errors.NoSchemaError);
  const wrong = withCapframe(client, {
    token: agentToken(),
    holderKey: agentKey,
    policies: { read_ticket: { resource: 'tickets://acme/{id}/x', operation: 'read' } },
  });
  assert.equal(await deniedCode(wrong.callTool({ name: 'read_ticket', arguments: { id: '2' } })), 'ERR_INVOCATION_MISMATCH');
  assert.equal(effects.length, 1);
});

test('guarding a server that already has tools is a config error (its tools would run unchecked)', async () => {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { guardMcpServer } = await import('../../src/mcp/index.ts');
  const s = new McpServer({ name: 'x', version: '1' });
  s.registerTool('t', {}, async () => ({ content: [] }));
  assert.throws(
    () => guardMcpServer(s, { config: config() }),
    (e: unknown) => e instanceof errors.ConfigError,
  );
});
