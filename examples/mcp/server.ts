/**
 * An MCP server with two tools behind capframe: `read_ticket` (read) and
 * `send_email` (send). Every call must carry the caller's capframe token and
 * a proof signed with its holder key; the server checks it before the tool
 * runs and prints each decision.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { CapframeConfig } from '../../src/config/index.ts';
import type { Verifier } from '../../src/index.ts';
import { guardMcpServer, type McpDecisionEvent } from '../../src/mcp/index.ts';

export const TOOLS_YAML = `
tools:
  read_ticket:
    resource: tickets://acme/{id}
    operation: read
  send_email:
    resource: mail://acme.example/outbound
    operation: send
`;

export function ticketsServer(config: CapframeConfig, verifier: Verifier, log: (e: McpDecisionEvent) => void): McpServer {
  const server = new McpServer({ name: 'acme-tickets', version: '1.0.0' });
  guardMcpServer(server, { config, verifier, onDecision: log }); // before the first registerTool
  server.registerTool(
    'read_ticket',
    {
      description: 'Read a support ticket by id',
      inputSchema: { id: z.string().describe('ticket id') },
    },
    async ({ id }) => ({ content: [{ type: 'text', text: `ticket ${id}: printer on fire (status: open)` }] }),
  );
  server.registerTool(
    'send_email',
    {
      description: 'Send an email',
      inputSchema: { to: z.string(), subject: z.string(), body: z.string() },
    },
    async ({ to, subject }) => {
      console.log(`    [server] sending "${subject}" to ${to}`);
      return { content: [{ type: 'text', text: `sent to ${to}` }] };
    },
  );
  return server;
}
