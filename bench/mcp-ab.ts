/**
 * A/B of two capframe trees on MCP calls, side by side in one run:
 *
 *   npx tsx bench/mcp-ab.ts OTHER_TREE [rounds] [block]
 *
 * OTHER_TREE is another checkout of capframe (e.g. `git archive <commit>`
 * unpacked, with node_modules linked and this tree's bench/mcp-server.ts
 * copied in). Each tree's servers run in a child process of their own
 * (bench/mcp-server.ts of that tree), the bare endpoint in a third one (this
 * tree's); the clients of both trees run here.
 * Cases, interleaved in blocks with the order rotating (warm-up rounds
 * discarded): bare, and guarded (signed) and session calls for A (OTHER_TREE)
 * and B (this tree). Reported per case: wall p50 / p10, and CPU per call of
 * the client (this process) and of the server (its child), with the load
 * average before and after. Prints one JSON object on the last line.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { formatPublicKey, serializePrivateKey } from '../src/index.ts';
import { nowNs, percentile, round } from './stats.ts';
import { BENCH_POLICIES, benchIdentity } from './mcp-server.ts';
import { connectMcp, ServerChild } from './mcp-child.ts';

type Tree = {
  withCapframe: (c: Client, o: Record<string, unknown>) => Client;
  parsePrivateKey: (t: string) => unknown;
};

const other = process.argv[2];
if (!other) {
  console.error('usage: npx tsx bench/mcp-ab.ts OTHER_TREE [rounds] [block]');
  process.exit(2);
}
const rounds = Number(process.argv[3] ?? 100);
const block = Number(process.argv[4] ?? 25);
const warmupRounds = Math.max(5, Math.round(rounds / 6));
const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const trees: Record<'A' | 'B', string> = { A: resolve(other), B: here };
const load0 = loadavg().map((x) => round(x, 2));

const { holder, serviceKey, token, start } = benchIdentity();
// Each tree's own server script, run in its own directory.
const startChild = (root: string) => ServerChild.start(start, { entry: resolve(root, 'bench/mcp-server.ts'), cwd: root });
const connect = (url: string) => connectMcp(url, 'bench-ab');

const servers: Record<string, Awaited<ReturnType<typeof startChild>>> = {};
const clients: Client[] = [];
const cases: { name: string; server: string; run: (i: number) => Promise<unknown> }[] = [];
const args = (i: number) => ({ name: 'noop', arguments: { id: `item-${i}` } });
for (const side of ['A', 'B'] as const) {
  const root = trees[side];
  servers[side] = await startChild(root);
  const tree = (await import(pathToFileURL(resolve(root, 'src/mcp/index.ts')).href)) as Tree;
  const keys = (await import(pathToFileURL(resolve(root, 'src/crypto/keys.ts')).href)) as Pick<Tree, 'parsePrivateKey'>;
  const holderKey = keys.parsePrivateKey(serializePrivateKey(holder));
  const g = await connect(servers[side].urls.guarded);
  const s = await connect(servers[side].urls.session);
  clients.push(g, s);
  const guarded = tree.withCapframe(g, { token, holderKey, policies: BENCH_POLICIES });
  const session = tree.withCapframe(s, { token, holderKey, policies: BENCH_POLICIES, serviceKey: formatPublicKey(serviceKey.publicKey) });
  cases.push({ name: `guarded_${side}`, server: side, run: (i) => guarded.callTool(args(i)) });
  cases.push({ name: `session_${side}`, server: side, run: (i) => session.callTool(args(i)) });
}
// The bare endpoint gets a child of its own: a child that serves more of the
// cases stays warmer (fewer idle gaps) and measured ~150 us less server CPU per
// call in an A/B of two identical trees when bare shared B's child.
servers.bare = await startChild(here);
const bare = await connect(servers.bare.urls.bare);
clients.push(bare);
cases.unshift({ name: 'bare', server: 'bare', run: (i) => bare.callTool(args(i)) });

const wall = new Map(cases.map((c) => [c.name, [] as number[]]));
const cpu = new Map(cases.map((c) => [c.name, { client: 0, server: 0, calls: 0 }]));
let n = 0;
for (let r = 0; r < warmupRounds + rounds; r++) {
  for (let j = 0; j < cases.length; j++) {
    const c = cases[(r + j) % cases.length]!;
    const srv = servers[c.server]!;
    const s0 = await srv.child.cpu();
    const c0 = process.cpuUsage();
    for (let k = 0; k < block; k++) {
      const t0 = nowNs();
      const res = (await c.run(n++)) as { isError?: boolean };
      const t1 = nowNs();
      if (res.isError) throw new Error(`${c.name}: call failed`);
      if (r >= warmupRounds) wall.get(c.name)!.push(Number(t1 - t0) / 1000);
    }
    const dc = process.cpuUsage(c0);
    const s1 = await srv.child.cpu();
    if (r < warmupRounds) continue;
    const a = cpu.get(c.name)!;
    a.client += dc.user + dc.system;
    a.server += s1 - s0;
    a.calls += block;
  }
}
const load1 = loadavg().map((x) => round(x, 2));
const out: Record<string, unknown> = { trees, rounds, block, load_start: load0, load_end: load1 };
const bareCpu = cpu.get('bare')!;
for (const c of cases) {
  const a = cpu.get(c.name)!;
  const w = wall.get(c.name)!;
  out[c.name] = {
    p50_us: round(percentile(w, 50)),
    p10_us: round(percentile(w, 10)),
    client_cpu_us: round(a.client / a.calls),
    server_cpu_us: round(a.server / a.calls),
    cpu_over_bare_us: round((a.client + a.server) / a.calls - (bareCpu.client + bareCpu.server) / bareCpu.calls),
    p50_over_bare_us: round(percentile(w, 50) - percentile(wall.get('bare')!, 50)),
  };
}
for (const c of clients) await c.close().catch(() => {});
await Promise.all(Object.values(servers).map((s) => s.child.stop()));
console.log(JSON.stringify(out));
