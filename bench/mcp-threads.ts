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
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { formatPublicKey, serializePrivateKey } from '../src/index.ts';
import { withCapframe } from '../src/mcp/index.ts';
import { nowNs, percentile, round } from './stats.ts';
import { BENCH_POLICIES, benchIdentity, threadCpuNs, type ServerUrls } from './mcp-server.ts';

const rounds = Number(process.argv[2] ?? 120);
const block = Number(process.argv[3] ?? 20);
const phases = Number(process.argv[4] ?? 4);
const { authority, holder, serviceKey, token } = benchIdentity();
const child = fork(fileURLToPath(new URL('./mcp-server.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
type Threads = { main: number; other: number };
const waiting = new Map<number, (t: Threads) => void>();
let next = 0;
const urls = await new Promise<ServerUrls>((ok, fail) => {
  child.on('message', (m: { type: string; id?: number; urls?: ServerUrls; message?: string } & Partial<Threads>) => {
    if (m.type === 'ready') ok(m.urls!);
    else if (m.type === 'error') fail(new Error(m.message));
    else if (m.type === 'threads') {
      waiting.get(m.id!)?.({ main: m.main!, other: m.other! });
      waiting.delete(m.id!);
    }
  });
  child.send({ type: 'start', authority: formatPublicKey(authority.publicKey), serviceKey: serializePrivateKey(serviceKey), answerPad: 400 });
});
const serverThreads = () =>
  new Promise<Threads>((ok) => {
    const id = next++;
    waiting.set(id, ok);
    child.send({ type: 'threads', id });
  });
const fetchWithoutSharedSignal: typeof fetch = (url, init) => fetch(url, { ...init, signal: null });
async function connect(url: string): Promise<Client> {
  const c = new Client({ name: 'bench-threads', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWithoutSharedSignal }));
  return c;
}
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
child.send({ type: 'stop' });
await new Promise((ok) => child.on('exit', ok));
process.exit(0);
