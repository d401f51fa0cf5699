/**
 * LangChain suite: the cost of capframe at the tool boundary.
 *
 *  - tool.invoke(toolCall) on a no-op tool: bare, guarded (in-process check)
 *    and attested (signed invocation proof + its verification), measured side
 *    by side with node:crypto Ed25519 sign/verify of a 200-byte message (the
 *    reference the targets are expressed in; the core suite reports the same
 *    reference as native_sign_us / native_verify_us).
 *  - throughput on the reference workload: a tool with 12 ms of asynchronous
 *    latency, 100 calls in flight, >= 20,000 calls per variant, bare and
 *    guarded in alternating rounds.
 *
 * The guard uses a sink that drops events (no I/O): what is measured is the
 * check and the event construction, not a disk.
 */
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { Verifier } from '../src/index.ts';
import { Guard, guardTool, type DecisionEvent } from '../src/langchain/index.ts';
import { compare, fmtUs, round, summarize, nowNs } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';
import { benchToken } from './support.ts';

const REPLAY_CAPACITY = 5_000_000;

function fixture() {
  const { authority, holder, token } = benchToken('noop://bench/*');
  let events = 0;
  const guard = new Guard({
    verifier: new Verifier({ trusted: [authority.publicKey], replayCapacity: REPLAY_CAPACITY }),
    sink: (_e: DecisionEvent) => {
      events++;
    },
    policies: {
      noop: { resource: 'noop://bench/{id}', operation: 'read' },
      noop_attested: { resource: 'noop://bench/{id}', operation: 'read', attested: true },
      slow: { resource: 'noop://bench/{id}', operation: 'read' },
    },
  });
  // Inside createAgent / ToolNode a tool is always invoked with a run config;
  // the baseline gets the same config without the capframe credentials.
  const bareRun = { configurable: { thread_id: 'bench' } };
  const run = { configurable: { thread_id: 'bench', capframe: { token, holderKey: holder } } };
  return { guard, run, bareRun, events: () => events };
}

const schema = z.object({ id: z.string() });

async function latencyBench(quick: boolean, f: ReturnType<typeof fixture>): Promise<{ bare: number; guarded: number }> {
  const slow = (name: string) => tool(() => new Promise<string>((r) => setTimeout(() => r('ok'), 12)), { name, description: 'slow', schema });
  const bare = slow('slow');
  const guarded = guardTool(slow('slow'), f.guard);
  const perRound = quick ? 500 : 2_500;
  const rounds = quick ? 4 : 32; // per variant: rounds x perRound calls (80,000 in a full run: run-to-run noise on this shared 2-core VM is about +-1.5 %)
  const inFlight = 100;
  let seq = 0;
  const runBatch = async (t: typeof bare | typeof guarded, calls: number, cfg: unknown): Promise<number> => {
    let next = 0;
    const t0 = nowNs();
    const worker = async () => {
      while (next < calls) {
        next++;
        const id = `tp-${seq++}`;
        const r = await t.invoke({ name: 'slow', args: { id: 'x' }, id, type: 'tool_call' }, cfg as never);
        if ((r as { status?: string }).status === 'error') throw new Error(`bench: guarded call denied: ${String((r as { content: unknown }).content)}`);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return Number(nowNs() - t0) / 1e9;
  };
  await runBatch(bare, 500, f.bareRun);
  await runBatch(guarded, 500, f.run);
  const time = { bare: 0, guarded: 0 };
  for (let r = 0; r < rounds; r++) {
    // alternate which goes first, so drift hits both alike
    if (r % 2 === 0) {
      time.bare += await runBatch(bare, perRound, f.bareRun);
      time.guarded += await runBatch(guarded, perRound, f.run);
    } else {
      time.guarded += await runBatch(guarded, perRound, f.run);
      time.bare += await runBatch(bare, perRound, f.bareRun);
    }
  }
  const n = rounds * perRound;
  return { bare: n / time.bare, guarded: n / time.guarded };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const f = fixture();
  const noop = (name: string) => tool(async () => 'ok', { name, description: 'no-op', schema });
  const bare = noop('noop');
  const guarded = guardTool(noop('noop'), f.guard);
  const attested = guardTool(noop('noop_attested'), f.guard);
  const kp = generateKeyPairSync('ed25519');
  const message = Buffer.alloc(200, 7);
  const sig = nodeSign(null, message, kp.privateKey);
  const call = (name: string, prefix: string) => (i: number) => ({ name, args: { id: 'item-42' }, id: `${prefix}-${i}`, type: 'tool_call' as const });
  const check = (r: unknown) => {
    if ((r as { status?: string }).status === 'error') throw new Error(`bench: call denied: ${String((r as { content: unknown }).content)}`);
  };
  const samples = await compare(
    [
      { name: 'native_verify', run: () => nodeVerify(null, message, kp.publicKey, sig) },
      { name: 'native_sign', run: () => nodeSign(null, message, kp.privateKey) },
      { name: 'bare', prepare: call('noop', 'b'), run: async (c) => check(await bare.invoke(c, f.bareRun)) },
      { name: 'guarded', prepare: call('noop', 'g'), run: async (c) => check(await guarded.invoke(c, f.run)) },
      { name: 'attested', prepare: call('noop_attested', 'a'), run: async (c) => check(await attested.invoke(c, f.run)) },
    ],
    ctx.quick ? { warmup: 300, iterations: 2_000, rounds: 4 } : { warmup: 3_000, iterations: 20_000, rounds: 10 },
  );
  const s = (n: string) => summarize(samples.get(n)!);
  const nv = s('native_verify');
  const ns = s('native_sign');
  const b = s('bare');
  const g = s('guarded');
  const a = s('attested');
  const tp = await latencyBench(ctx.quick, f);
  const ratio = tp.guarded / tp.bare;
  const guardedOver = g.p50 - b.p50;
  const attestedOver = a.p50 - b.p50;
  const metrics: Record<string, number> = {
    tool_invoke_bare_us: round(b.p50),
    tool_invoke_guarded_us: round(g.p50),
    tool_invoke_guarded_p99_us: round(g.p99),
    tool_invoke_attested_us: round(a.p50),
    guarded_throughput_ratio: round(ratio),
    guarded_throughput_calls_per_s: Math.round(tp.guarded),
    bare_throughput_calls_per_s: Math.round(tp.bare),
  };
  const rows: BenchRow[] = [
    { name: 'tool.invoke bare (p50)', value: fmtUs(b.p50) },
    {
      name: 'tool.invoke guarded (p50)',
      value: `${fmtUs(g.p50)}  (+${fmtUs(guardedOver)})`,
      target: `overhead <= 0.15 x verify = ${fmtUs(0.15 * nv.p50)}  [${(guardedOver / nv.p50).toFixed(3)} x]`,
      ok: guardedOver <= 0.15 * nv.p50,
    },
    { name: 'tool.invoke guarded (p99)', value: fmtUs(g.p99) },
    {
      name: 'tool.invoke attested (p50)',
      value: `${fmtUs(a.p50)}  (+${fmtUs(attestedOver)})`,
      target: `overhead <= 1.5 x (sign + verify) = ${fmtUs(1.5 * (ns.p50 + nv.p50))}  [${(attestedOver / (ns.p50 + nv.p50)).toFixed(2)} x]`,
      ok: attestedOver <= 1.5 * (ns.p50 + nv.p50),
    },
    {
      name: 'throughput guarded / bare (12 ms tool, 100 in flight)',
      value: `${ratio.toFixed(3)}  (${Math.round(tp.guarded)} / ${Math.round(tp.bare)} calls/s)`,
      target: '>= 0.97',
      ok: ratio >= 0.97,
    },
    { name: 'reference: node:crypto verify / sign (this run)', value: `${fmtUs(nv.p50)} / ${fmtUs(ns.p50)}` },
  ];
  if (f.events() === 0) throw new Error('bench: the guard emitted no events');
  return { metrics, rows };
}

export const langchainSuite: Suite = { name: 'langchain', default: true, run };
