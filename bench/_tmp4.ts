import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { generateKey, issueToken, Verifier } from '../src/index.ts';
import { guardMcpServer, withCapframe } from '../src/mcp/index.ts';
import { serveHttp } from '../examples/mcp/http.ts';
const authority = generateKey(), holder = generateKey();
const token = issueToken({ key: authority, subject: 'a', holder: holder.publicKey, ttl: '1h', grants: [{ resource: 'noop://bench/*', permissions: ['read'] }] });
const policies = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };
const verifier = new Verifier({ trusted: [authority.publicKey] });
const mk = (g: boolean) => () => { const s = new McpServer({ name: 'b', version: '1' }); if (g) guardMcpServer(s, { verifier, policies }); s.registerTool('noop', { inputSchema: { id: z.string() } }, async () => ({ content: [{ type: 'text', text: 'ok' }] })); return s; };
const hb = await serveHttp(mk(false)), hg = await serveHttp(mk(true));
const cb = new Client({ name: 'c', version: '1' }); await cb.connect(new StreamableHTTPClientTransport(hb.url));
const cg0 = new Client({ name: 'c', version: '1' }); await cg0.connect(new StreamableHTTPClientTransport(hg.url));
const cg = withCapframe(cg0, { token, holderKey: holder, policies });
const pad = 'x'.repeat(900);
for (let r = 0; r < 4; r++) for (const [n, c, extra] of [['bare', cb, {}], ['bare+900B meta', cb, { _meta: { pad } }], ['guarded', cg, {}]] as const) {
  const N = 200; const t = [];
  for (let i = 0; i < N; i++) { const t0 = process.hrtime.bigint(); await (c as Client).callTool({ name: 'noop', arguments: { id: `x${r}-${i}` }, ...extra }); t.push(Number(process.hrtime.bigint() - t0) / 1000); }
  t.sort((a, b) => a - b); console.log(n.padEnd(16), 'p50', t[N / 2]!.toFixed(0), 'us  p10', t[N / 10]!.toFixed(0));
}
await cb.close(); await cg0.close(); await hb.close(); await hg.close();
