/**
 * Where the CPU of an MCP call goes by thread, over time (a tool, not a suite):
 *
 *   npx tsx bench/mcp-threads.ts [rounds] [block] [phases]
 *
 * Cases bare, guarded (signed proofs) and session, interleaved in blocks of
 * `block` calls with the order rotating, `rounds` rounds cut into `phases`
 * phases (the first one includes V8's warm-up). Per phase and case: wall p50
 * and CPU per call of the client's main thread, the client's other threads
 * (V8's optimizing compiler and GC workers, libuv's pool, tsx's loader), the
 * server's main thread and the server's other threads (Linux /proc; see
 * threadCpuNs in bench/mcp-server.ts). process.cpuUsage(), which the mcp suite
 * and bench/mcp-profile.ts report, is the sum of all of them. One JSON line per phase.
 */
import { loadavg } from 'node:os';
import { formatPublicKey } from '../src/index.ts';
import { connectMcp, ServerChild } from './mcp-child.ts';
import { withCapframe } from '../src/mcp/index.ts';
import { nowNs, percentile, round } from './stats.ts';
import { BENCH_POLICIES, benchIdentity, threadCpuNs } from './mcp-server.ts';

const rounds = Number(process.argv[2] ?? 120);
const block = Number(process.argv[3] ?? 20);
const phases = Number(process.argv[4] ?? 4);
const { holder, serviceKey, token, start } = benchIdentity();
const { child, urls } = await ServerChild.start(start, { stdout: 'inherit' });
const serverThreads = () => child.threads();
const connect = (url: string) => connectMcp(url, 'bench-threads');
const bare = await connect(urls.bare);
const guarded = withCapframe(await connect(urls.guarded), { token, holderKey: holder, policies: BENCH_POLICIES });
const session = withCapframe(await connect(urls.session), {
  token,
  holderKey: holder,
  policies: BENCH_POLICIES,
  serviceKey: formatPublicKey(serviceKey.publicKey),
});
const cases = [
  { name: 'bare', c: bare },
  { name: 'guarded', c: guarded },
  { name: 'session', c: session },
];
type Acc = { wall: number[]; cMain: number; cOther: number; sMain: number; sOther: number; calls: number };
const fresh = (): Record<string, Acc> => Object.fromEntries(cases.map((c) => [c.name, { wall: [], cMain: 0, cOther: 0, sMain: 0, sOther: 0, calls: 0 }]));
let acc = fresh();
let n = 0;
const perPhase = Math.max(1, Math.floor(rounds / phases));
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < cases.length; j++) {
    const k = cases[(r + j) % cases.length]!;
    const s0 = await serverThreads();
    const c0 = threadCpuNs();
    const a = acc[k.name]!;
    for (let i = 0; i < block; i++) {
      const t0 = nowNs();
      const res = (await k.c.callTool({ name: 'noop', arguments: { id: `item-${n++}` } })) as { isError?: boolean };
      a.wall.push(Number(nowNs() - t0) / 1000);
      if (res.isError) throw new Error(`${k.name}: call failed`);
    }
    const c1 = threadCpuNs();
    const s1 = await serverThreads();
    a.cMain += c1.main - c0.main;
    a.cOther += c1.other - c0.other;
    a.sMain += s1.main - s0.main;
    a.sOther += s1.other - s0.other;
    a.calls += block;
  }
  if ((r + 1) % perPhase === 0 || r === rounds - 1) {
    const out: Record<string, unknown> = { phase: Math.ceil((r + 1) / perPhase), calls_so_far: n, load: round(loadavg()[0]!, 2) };
    for (const [name, x] of Object.entries(acc)) {
      const us = (ns: number) => round(ns / 1000 / x.calls);
      out[name] = {
        p50: round(percentile(x.wall, 50)),
        client_main: us(x.cMain),
        client_other: us(x.cOther),
        server_main: us(x.sMain),
        server_other: us(x.sOther),
      };
    }
    console.log(JSON.stringify(out));
    acc = fresh();
  }
}
for (const k of cases) await k.c.close().catch(() => {});
await child.stop();
process.exit(0);
