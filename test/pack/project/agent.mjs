// Run in the same project once langchain is installed: the middleware in a createAgent loop.
import assert from 'node:assert/strict';
import { AIMessage, createAgent, fakeModel, tool } from 'langchain';
import { z } from 'zod';
import { generateKey, issueToken } from 'capframe';
import { parseConfig } from 'capframe/langchain';
import { capframeMiddleware } from 'capframe/langchain/middleware';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:pack',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});
const config = parseConfig(
  `
trust:
  authorities:
    - cfk1.${Buffer.from(authority.publicKey).toString('base64url')}
tools:
  get_ticket:
    resource: tickets://acme/{id}
    operation: read
  delete_ticket:
    resource: tickets://acme/{id}
    operation: delete
`,
  { file: 'capframe.yaml' },
);
const ran = [];
const make = (name) =>
  tool(
    async ({ id }) => {
      ran.push(name);
      return `${name} ${id}`;
    },
    { name, description: `${name} tool`, schema: z.object({ id: z.string() }) },
  );
const model = fakeModel()
  .respondWithTools([
    { name: 'get_ticket', args: { id: '7' }, id: 'a1' },
    { name: 'delete_ticket', args: { id: '7' }, id: 'a2' },
  ])
  .respond(new AIMessage('done'));
// Tools not wrapped with guardTool: the middleware checks every call.
const agent = createAgent({ model, tools: [make('get_ticket'), make('delete_ticket')], middleware: [capframeMiddleware(config)] });
const out = await agent.invoke({ messages: [{ role: 'user', content: 'help' }] }, { configurable: { capframe: { token, holderKey: holder } } });
assert.equal(out.messages.at(-1).content, 'done');
const results = out.messages.filter((m) => m.getType() === 'tool');
assert.deepEqual(
  results.map((m) => (m.status === 'error' ? m.artifact.capframe.code : 'OK')),
  ['OK', 'ERR_SCOPE_PERMISSION'],
);
assert.deepEqual(ran, ['get_ticket']);
console.log('agent ok');
