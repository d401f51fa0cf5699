/** A Streamable HTTP MCP endpoint on 127.0.0.1 (one transport per session), with an optional bearer check that sets `req.auth` as the SDK's requireBearerAuth does. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

export interface HttpEndpoint {
  readonly url: URL;
  close(): Promise<void>;
}

export async function serveHttp(make: () => McpServer, bearer?: (token: string) => AuthInfo | undefined): Promise<HttpEndpoint> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const servers: McpServer[] = [];
  const http: Server = createServer((req, res) => {
    void (async () => {
      if (bearer) {
        // What the SDK's requireBearerAuth does: a verified bearer token becomes req.auth (AuthInfo).
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        const auth = m ? bearer(m[1]!) : undefined;
        if (!auth) {
          res.writeHead(401).end();
          return;
        }
        (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
      }
      const sid = req.headers['mcp-session-id'];
      let t = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (!t) {
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            transports.set(id, transport);
          },
        });
        const server = make();
        servers.push(server);
        await server.connect(transport);
        t = transport;
      }
      await t.handleRequest(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    async close() {
      for (const s of servers) await s.close().catch(() => {});
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
