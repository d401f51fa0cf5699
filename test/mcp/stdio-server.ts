/** A guarded tickets MCP server on stdio (child process of transports.test.ts). Records handler runs in CAPFRAME_EFFECTS (a file). */
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { parseConfig } from '../../src/config/index.ts';
import { guardMcpServer } from '../../src/mcp/index.ts';

const config = parseConfig(`
trust:
  authorities: [${process.env.CAPFRAME_AUTHORITY}]
tools:
  update_ticket:
    resource: tickets://acme/{id}
    operation: write
`);
const server = new McpServer({ name: 'tickets-stdio', version: '1.0.0' });
guardMcpServer(server, { config });
server.registerTool('update_ticket', { inputSchema: { id: z.string(), status: z.string() } }, async (args) => {
  appendFileSync(process.env.CAPFRAME_EFFECTS!, JSON.stringify(args) + '\n');
  return { content: [{ type: 'text', text: `updated ${args.id}` }] };
});
await server.connect(new StdioServerTransport());
