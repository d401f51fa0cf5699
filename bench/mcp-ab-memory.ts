/**
 * A/B of two capframe trees on MCP calls without HTTP (InMemoryTransport):
 *
 *   npx tsx bench/mcp-ab-memory.ts OTHER_TREE [rounds]
 *
 * Client and server in this process; per case the wall p50 and the CPU time
 * per call (both sides together), blocks of 25 calls interleaved with the
 * order rotating, bare beside them. Without the HTTP stack's work between
 * calls, this shows the cost of capframe's code on the MCP path with far less
 * noise than bench/mcp-ab.ts (A = OTHER_TREE, B = this tree).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../src/index.ts';

if (!process.argv[2]) {
  console.error('usage: npx tsx bench/mcp-ab-memory.ts OTHER_TREE [rounds]');
  process.exit(2);
}
const trees = { A: resolve(process.argv[2]), B: resolve(fileURLToPath(new URL('..', import.meta.url))) };
const authority = generateKey();
const holder = generateKey();
const serviceKey = generateKey();
const token = String(
  issueToken({ key: authority, subject: 'agent:bench', holder: holder.publicKey, ttl: '1h', grants: [{ resource: 'noop://bench/*', permissions: ['read'] }] }),
);
const policies = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };
async function link(s: McpServer) {
  const [a, b] = InMemoryTransport.createLinkedPair();
  const c = new Client({ name: 'b', version: '1' });
  await Promise.all([s.connect(a), c.connect(b)]);
  return c;
}
const mk = (g?: (s: McpServer) => void) => {
  const s = new McpServer({ name: 'b', version: '1' });
  g?.(s);
  s.registerTool('noop', { inputSchema: { id: z.string() } }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  return s;
};
const cases: [string, (i: number) => Promise<unknown>][] = [];
const bare = await link(mk());
cases.push(['bare', (i) => bare.callTool({ name: 'noop', arguments: { id: `i${i}` } })]);
for (const [side, root] of Object.entries(trees)) {
  const imp = (p: string) => import(pathToFileURL(resolve(root, p)).href);
  const mcp = await imp('src/mcp/index.ts');
  const keys = await imp('src/crypto/keys.ts');
  const ver = await imp('src/verify/verifier.ts');
  const st = await imp('src/verify/session-table.ts');
  const sg = await imp('src/crypto/signer.ts');
  const trusted = [keys.parsePublicKey(formatPublicKey(authority.publicKey))];
  const hk = keys.parsePrivateKey(serializePrivateKey(holder));
  const v1 = new ver.Verifier({ trusted, replayCapacity: 1_000_000 });
  const v2 = new ver.Verifier({ trusted, replayCapacity: 1_000_000 });
  const table = new st.SessionTable({ verifier: v2, signer: sg.keySigner(keys.parsePrivateKey(serializePrivateKey(serviceKey))) });
  const g = mcp.withCapframe(await link(mk((s) => mcp.guardMcpServer(s, { verifier: v1, policies }))), { token, holderKey: hk, policies });
  const se = mcp.withCapframe(await link(mk((s) => mcp.guardMcpServer(s, { verifier: v2, policies, sessions: table }))), {
    token,
    holderKey: hk,
    policies,
    serviceKey: formatPublicKey(serviceKey.publicKey),
  });
  cases.push(
    [`guarded_${side}`, (i) => g.callTool({ name: 'noop', arguments: { id: `i${i}` } })],
    [`session_${side}`, (i) => se.callTool({ name: 'noop', arguments: { id: `i${i}` } })],
  );
}
const R = Number(process.argv[3] ?? 200),
  B = 25,
  W = 30;
const l0 = loadavg()[0];
const wall = new Map(cases.map(([n]) => [n, [] as number[]]));
const cpu = new Map(cases.map(([n]) => [n, 0]));
let n = 0;
for (let r = 0; r < W + R; r++)
  for (let j = 0; j < cases.length; j++) {
    const [name, run] = cases[(r + j) % cases.length]!;
    const c0 = process.cpuUsage();
    for (let k = 0; k < B; k++) {
      const t0 = performance.now();
      await run(n++);
      if (r >= W) wall.get(name)!.push((performance.now() - t0) * 1000);
    }
    const d = process.cpuUsage(c0);
    if (r >= W) cpu.set(name, cpu.get(name)! + d.user + d.system);
  }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const bc = cpu.get('bare')! / (R * B),
  bw = med(wall.get('bare')!);
console.log(
  JSON.stringify({
    trees,
    load: [l0, loadavg()[0]],
    ...Object.fromEntries(
      cases.map(([nm]) => [
        nm,
        {
          p50: +med(wall.get(nm)!).toFixed(1),
          p50_over_bare: +(med(wall.get(nm)!) - bw).toFixed(1),
          cpu: +(cpu.get(nm)! / (R * B)).toFixed(1),
          cpu_over_bare: +(cpu.get(nm)! / (R * B) - bc).toFixed(1),
        },
      ]),
    ),
  }),
);
