/** Shared setup for the MCP tests: keys, tokens, a config, a guarded tickets server. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { formatPublicKey, generateKey, issueToken, type PrivateKey, type Token } from '../../src/index.ts';
import { parseConfig, type CapframeConfig } from '../../src/config/index.ts';
import { guardMcpServer, type McpDecisionEvent, type McpGuard, type McpGuardOptions } from '../../src/mcp/index.ts';

export const authority = generateKey();
export const agentKey = generateKey();

export function agentToken(
  opts: { ttl?: string | number; key?: PrivateKey; subject?: string; grants?: Parameters<typeof issueToken>[0]['grants'] } = {},
): Token {
  return issueToken({
    key: authority,
    subject: opts.subject ?? 'agent:support',
    holder: (opts.key ?? agentKey).publicKey,
    grants: opts.grants ?? [
      { resource: 'tickets://acme/*', permissions: ['read', 'write'] },
      { resource: 'mail://acme.example/*', permissions: ['send'], constraints: { to: { type: 'glob', pattern: '*@acme.example' } } },
    ],
    ttl: opts.ttl ?? '1h',
  });
}

export const CONFIG_TEXT = `
trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
tools:
  read_ticket:
    resource: tickets://acme/{id}
    operation: read
  update_ticket:
    resource: tickets://acme/{id}
    operation: write
  delete_ticket:
    resource: tickets://acme/{id}
    operation: delete
  read_org_ticket:
    resource: tickets://{org}/{id}
    operation: read
  send_email:
    resource: mail://acme.example/outbound
    operation: send
  trimmed_read:
    resource: tickets://acme/{id}
    operation: read
`;

export function config(): CapframeConfig {
  return parseConfig(CONFIG_TEXT, { file: 'mcp-test.yaml' });
}

/** Side effects of the tool handlers: a denied call must leave none. */
export type Effects = { tool: string; args: Record<string, unknown> }[];

/** A guarded McpServer with the tickets tools; `effects` records every handler run. */
export function ticketsServer(
  options: Partial<McpGuardOptions> = {},
  effects: Effects = [],
): { server: McpServer; guard: McpGuard; effects: Effects; events: McpDecisionEvent[] } {
  const server = new McpServer({ name: 'tickets', version: '1.0.0' });
  const events: McpDecisionEvent[] = [];
  const guard = guardMcpServer(server, { config: config(), onDecision: (e) => events.push(e), ...options });
  const run = (tool: string) => async (args: Record<string, unknown>) => {
    effects.push({ tool, args });
    return { content: [{ type: 'text' as const, text: `${tool} done ${JSON.stringify(args)}` }] };
  };
  server.registerTool('read_ticket', { description: 'Read a ticket', inputSchema: { id: z.string() } }, run('read_ticket'));
  server.registerTool('update_ticket', { description: 'Update a ticket', inputSchema: { id: z.string(), status: z.string() } }, run('update_ticket'));
  server.registerTool('delete_ticket', { description: 'Delete a ticket', inputSchema: { id: z.string() } }, run('delete_ticket'));
  server.registerTool('read_org_ticket', { description: 'Read a ticket of an org', inputSchema: { org: z.string(), id: z.string() } }, run('read_org_ticket'));
  server.registerTool('send_email', { description: 'Send an email', inputSchema: { to: z.string(), subject: z.string() } }, run('send_email'));
  server.registerTool('trimmed_read', { description: 'Read (id trimmed)', inputSchema: { id: z.string().trim() } }, run('trimmed_read'));
  server.registerTool('no_policy', { description: 'A tool without a capframe policy', inputSchema: { x: z.string() } }, run('no_policy'));
  return { server, guard, effects, events };
}

/** A raw SDK client connected in memory to `server`. */
export async function connectInMemory(server: McpServer): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await Promise.all([server.connect(a), client.connect(b)]);
  return client;
}
