/**
 * Where the CPU of one MCP call mode goes, both sides (a tool, not a suite):
 *
 *   npx tsx bench/mcp-profile.ts MODE [calls]
 *   CAPFRAME_BENCH_PROFILE=1 node --cpu-prof --cpu-prof-dir=DIR --cpu-prof-interval=100 --import tsx bench/mcp-profile.ts MODE [calls] DIR
 *
 * (CAPFRAME_BENCH_PROFILE_INTERVAL: the sampling interval, us; default 100.) MODE is bare, guarded or session; CAPFRAME_BENCH_IN_CONTEXT=1 adds the in-context timings below
 * (and the plain crypto op's CPU to both sides' totals); CAPFRAME_BENCH_TRACE_OPT=1 starts the
 * server child with --trace-opt --trace-deopt (its output on this stdout). The servers run in a child process
 * (bench/mcp-server.ts; with CAPFRAME_BENCH_PROFILE it is started with
 * --cpu-prof into DIR), the client here. Prints CPU per call of each side
 * after a warm-up, with the load average, and the in-context CPU of
 * capframe's own step per call (client: withCapframe's callTool up to the
 * SDK's callTool, i.e. signing; server: Verifier.verifyInvocation), each beside a
 * plain node:crypto Ed25519 sign / verify (cached KeyObject) timed in the
 * same place just before it: what the step costs between HTTP work, where
 * caches are cold, rather than in a tight loop.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { loadavg } from 'node:os';
import { formatPublicKey } from '../src/index.ts';
import { connectMcp, ServerChild } from './mcp-child.ts';
import { withCapframe } from '../src/mcp/index.ts';
import { BENCH_POLICIES, benchIdentity, type ServerUrls } from './mcp-server.ts';

const mode = (process.argv[2] ?? 'guarded') as keyof ServerUrls;
const calls = Number(process.argv[3] ?? 3000);
const dir = process.argv[4] ?? '/tmp';
/** Time capframe's step and a plain crypto op per call (adds the plain op's CPU to both sides' totals). */
const inContext = process.env.CAPFRAME_BENCH_IN_CONTEXT === '1';
const { holder, serviceKey, token, start } = benchIdentity();
const { child, urls } = await ServerChild.start(start, {
  execArgv: [
    ...(process.env.CAPFRAME_BENCH_TRACE_OPT ? ['--trace-opt', '--trace-deopt'] : []),
    ...(process.env.CAPFRAME_BENCH_PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${process.env.CAPFRAME_BENCH_PROFILE_INTERVAL ?? 100}`]
      : []),
  ],
  env: { ...process.env, ...(inContext ? { CAPFRAME_BENCH_TIME_VERIFY: '1' } : {}) },
  stdout: 'inherit',
});
const serverCpu = () => child.cpu();
const c = await connectMcp(urls[mode], 'bench-prof');
const holderKey = holder;
const signUs: number[] = [];
const plainUs: number[] = [];
const PLAIN_KEY = generateKeyPairSync('ed25519').privateKey;
const PLAIN_MESSAGE = Buffer.alloc(200, 7);
let t0: NodeJS.CpuUsage | undefined;
const targetCall = c.callTool.bind(c);
c.callTool = ((...a: Parameters<typeof targetCall>) => {
  if (t0 && inContext) {
    const d = process.cpuUsage(t0);
    signUs.push(d.user + d.system);
  }
  return targetCall(...a);
}) as typeof c.callTool;
const client =
  mode === 'bare'
    ? c
    : withCapframe(c, {
        token,
        holderKey,
        policies: BENCH_POLICIES,
        ...(mode === 'session' ? { serviceKey: formatPublicKey(serviceKey.publicKey) } : {}),
      });
const load0 = loadavg()[0]!.toFixed(2);
for (let i = 0; i < 300; i++) await client.callTool({ name: 'noop', arguments: { id: `w-${i}` } });
const s0 = await serverCpu();
const c0 = process.cpuUsage();
for (let i = 0; i < calls; i++) {
  if (mode !== 'bare' && inContext) {
    // A plain node:crypto sign (cached KeyObject) just before, in the same context: the scale.
    const t1 = process.cpuUsage();
    nodeSign(null, PLAIN_MESSAGE, PLAIN_KEY);
    const d1 = process.cpuUsage(t1);
    plainUs.push(d1.user + d1.system);
  }
  t0 = process.cpuUsage();
  const r = (await client.callTool({ name: 'noop', arguments: { id: `item-${i}` } })) as { isError?: boolean };
  if (r.isError) throw new Error('call failed');
}
const dc = process.cpuUsage(c0);
const s1 = await serverCpu();
const inCtx = !inContext ? { verify: [], sign: [] } : await child.crypto();
const med = (x: number[]) => (x.length ? [...x].sort((p, q) => p - q)[x.length >> 1]!.toFixed(1) : '-');
const mean = (x: number[]) => (x.length ? (x.reduce((p, q) => p + q, 0) / x.length).toFixed(1) : '-');
console.log(
  JSON.stringify({
    client_sign_in_call_us: { p50: med(signUs), mean: mean(signUs) },
    client_plain_sign_in_call_us: { p50: med(plainUs), mean: mean(plainUs) },
    server_verify_in_call_us: { p50: med(inCtx.verify.slice(300)), mean: mean(inCtx.verify.slice(300)) },
    server_plain_verify_in_call_us: { p50: med(inCtx.sign.slice(300)), mean: mean(inCtx.sign.slice(300)) },
  }),
);
console.log(
  JSON.stringify({
    mode,
    calls,
    client_cpu_us: Math.round((dc.user + dc.system) / calls),
    server_cpu_us: Math.round((s1 - s0) / calls),
    load: [load0, loadavg()[0]!.toFixed(2)],
  }),
);
await c.close().catch(() => {});
await child.stop();
process.exit(0);
