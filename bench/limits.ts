/**
 * Limits suite (docs/limits.md): what charging rate limits and budgets
 * (docs/spec.md §14) adds to a call, in one run.
 *
 *   limit_check_us        in-process check of a 2-block chain whose two
 *                         grants each carry a rate limit (memory counters),
 *                         minus the same check without limits (both measured
 *                         side by side, interleaved, with one native Ed25519
 *                         verify as the yardstick: target <= 0.05 x)
 *   limit_check_redis_us  one charge of a 3-block chain's three counters in
 *                         Redis: one EVALSHA, one round trip (p50); also the
 *                         whole in-process check with those counters
 *   tool-calls, local ratio with a rate limit on every call: the tool-calls
 *                         workload (12 ms tool, 100 in flight) bare, behind
 *                         the guard, and behind the guard with a token whose
 *                         every grant is rate-limited, interleaved in rounds
 *                         (each way in each place of the rotation equally
 *                         often); beside the ratios, the CPU per call of each
 *                         way (process.cpuUsage) minus bare's: the ratios
 *                         follow the event loop's CPU per call, and the CPU
 *                         figures move far less with other load
 *
 * Redis parts are skipped, and said so, when Redis does not answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { verify as nodeVerify } from 'node:crypto';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { delegate, generateKey, issueToken, Verifier, type Decision, type Grant, type LimitCharge } from '../src/index.ts';
import { Guard, guardTool } from '../src/langchain/index.ts';
import { RedisReplayStore } from '../src/verify/replay-redis.ts';
import { MemoryReplayStore } from '../src/verify/replay.ts';
import { signedMessage } from '../src/token/chain.ts';
import { compare, fmtUs, round, summarize, type Case } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';
import { benchPrefix, deleteRedisKeys, phase, REDIS_URL, redisAnswers } from './support.ts';
import { check, load } from './tool-calls.ts';

const CALL = { tool: 'read_user', operation: 'read', resource: 'db://users/alice', args: Object.freeze({ table: 'users', id: 'alice', limit: 10 }) };
/** Never reached in a run: every call is charged, none refused. */
const RATE = { calls: 1_000_000_000, per: 3600 };

function allowed(d: Decision, what: string): void {
  if (!d.allowed) throw new Error(`bench: ${what} was denied: ${d.code} ${d.reason}`);
}

function chains(limited: boolean) {
  const authority = generateKey();
  const keys = [generateKey(), generateKey(), generateKey()];
  const g: Grant = { resource: 'db://users/*', permissions: ['read'], ...(limited ? { rate: RATE } : {}) };
  const root = issueToken({ key: authority, subject: 'agent', holder: keys[0]!.publicKey, grants: [g], ttl: '2h', maxDepth: 2 });
  const two = delegate(root, { key: keys[0]!, to: keys[1]!.publicKey, subject: 'child', ...(limited ? { rate: RATE } : { permissions: ['read'] }) });
  const three = delegate(two, { key: keys[1]!, to: keys[2]!.publicKey, subject: 'grandchild', ...(limited ? { rate: RATE } : { permissions: ['read'] }) });
  return { authority, two, three };
}

async function micro(ctx: BenchContext, failed: Record<string, string>): Promise<{ metrics: Record<string, number>; rows: BenchRow[] }> {
  const plain = chains(false);
  const limited = chains(true);
  const capacity = 4_000_000;
  const vPlain = new Verifier({ trusted: [plain.authority.publicKey], replayCapacity: capacity });
  const vLimited = new Verifier({ trusted: [limited.authority.publicKey], replayCapacity: capacity });
  const { privateKey, publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'));
  const message = signedMessage('invocation', new Uint8Array(120).fill(7));
  const sig = (await import('node:crypto')).sign(null, message, privateKey);

  const withRedis = await redisAnswers();
  if (!withRedis) failed.limit_check_redis = `Redis is not answering at ${REDIS_URL}: skipped`;
  const prefix = benchPrefix('limits');
  const store = withRedis ? new RedisReplayStore({ url: REDIS_URL, prefix, timeout: 5000 }) : undefined;
  try {
    if (store) await store.ready();
    const vRedis = store ? new Verifier({ trusted: [limited.authority.publicKey], replay: new MemoryReplayStore(capacity), limits: store }) : undefined;
    const now = Math.floor(Date.now() / 1000);
    // Three counters as the 3-block chain charges them (one per block).
    const charges3 = (i: number): LimitCharge[] =>
      [0, 1, 2].map((b) => ({ key: `{bench}:${b}:0:r:${i % 1000}`, limit: 1_000_000_000n, amount: 1n, expiresAt: now + 3600 }));

    const cases: Case<any>[] = [
      { name: 'native_verify', run: () => nodeVerify(null, message, publicKey, sig) },
      {
        name: 'local_check',
        prepare: (i) => ({ ...CALL, callId: `p-${i}` }),
        run: async (call) => allowed(await vPlain.authorize(plain.two, call), 'local_check'),
      },
      {
        name: 'limited_check',
        prepare: (i) => ({ ...CALL, callId: `l-${i}` }),
        run: async (call) => allowed(await vLimited.authorize(limited.two, call), 'limited_check'),
      },
    ];
    if (store && vRedis) {
      cases.push(
        {
          name: 'redis_charge3',
          prepare: (i) => charges3(i),
          run: async (cs: LimitCharge[]) => {
            if ((await store.chargeLimits(cs, now)) !== -1) throw new Error('bench: redis charge refused');
          },
        },
        {
          name: 'redis_limited_check3',
          prepare: (i) => ({ ...CALL, callId: `r-${i}` }),
          run: async (call) => allowed(await vRedis.authorize(limited.three, call), 'redis_limited_check3'),
        },
      );
    }
    const samples = await compare(cases, ctx.quick ? { warmup: 30, iterations: 200, rounds: 2 } : { warmup: 1000, iterations: 10_000, rounds: 20 });
    const s = (n: string) => summarize(samples.get(n)!);
    const nv = s('native_verify');
    const lc = s('local_check');
    const lim = s('limited_check');
    const added = lim.p50 - lc.p50;
    const metrics: Record<string, number> = {
      native_verify_us: round(nv.p50),
      local_check_us: round(lc.p50),
      limited_check_us: round(lim.p50),
      limit_check_us: round(added),
      limit_check_vs_native_verify: round(added / nv.p50),
    };
    const rows: BenchRow[] = [
      { name: 'native Ed25519 verify', value: fmtUs(nv.p50) },
      { name: 'local check, 2 blocks, no limits', value: fmtUs(lc.p50) },
      { name: 'local check, 2 blocks, a rate limit on each', value: fmtUs(lim.p50) },
      {
        name: 'limit_check_us (added by the limits)',
        value: fmtUs(added),
        target: `<= 0.05 x native verify (${fmtUs(0.05 * nv.p50)})`,
        ok: added <= 0.05 * nv.p50,
      },
    ];
    if (samples.has('redis_charge3')) {
      const rc = s('redis_charge3');
      const rv = s('redis_limited_check3');
      metrics.limit_check_redis_us = round(rc.p50);
      metrics.limit_check_redis_p99_us = round(rc.p99);
      metrics.redis_limited_check3_us = round(rv.p50);
      rows.push(
        { name: 'limit_check_redis_us (3 counters, one EVALSHA round trip)', value: `${fmtUs(rc.p50)} (p99 ${fmtUs(rc.p99)})` },
        { name: 'local check, 3 blocks, counters in Redis', value: fmtUs(rv.p50) },
      );
    }
    return { metrics, rows };
  } finally {
    await store?.close();
    if (withRedis) await deleteRedisKeys(prefix).catch(() => {});
  }
}

/** The tool-calls workload: bare, guarded, and guarded with a rate limit on every call (interleaved). */
async function toolCalls(ctx: BenchContext): Promise<{ metrics: Record<string, number>; rows: BenchRow[] }> {
  const total = ctx.quick ? 2_000 : 80_000; // 20,000 per way left run-to-run noise of about +-3 %
  // A multiple of the number of ways: each way takes each place in the rotation equally often.
  const rounds = ctx.quick ? 3 : 18;
  const perRound = Math.round(total / rounds);
  const warmup = ctx.quick ? 300 : 1_000;
  const authority = generateKey();
  const holder = generateKey();
  const grant = { resource: 'tickets://acme/*', permissions: ['read'] };
  const token = issueToken({ key: authority, subject: 'agent:bench', holder: holder.publicKey, ttl: '1h', grants: [grant] });
  const limitedToken = issueToken({ key: authority, subject: 'agent:bench', holder: holder.publicKey, ttl: '1h', grants: [{ ...grant, rate: RATE }] });
  const policies = { get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' } };
  const capacity = 4 * (total + warmup) + 100_000;
  const getTicket = tool(
    async ({ id }: { id: number }) => {
      await sleep(12);
      return `ticket ${id}`;
    },
    { name: 'get_ticket', description: 'Reads one support ticket.', schema: z.object({ id: z.number() }) },
  );
  const local = guardTool(getTicket, new Guard({ verifier: new Verifier({ trusted: [authority.publicKey], replayCapacity: capacity }), policies, sink: null }));
  const localRate = guardTool(
    getTicket,
    new Guard({ verifier: new Verifier({ trusted: [authority.publicKey], replayCapacity: capacity }), policies, sink: null }),
  );
  const cfg = { configurable: { capframe: { token, holderKey: holder } } };
  const cfgRate = { configurable: { capframe: { token: limitedToken, holderKey: holder } } };
  const tc = (i: number, way: string) => ({ type: 'tool_call' as const, id: `${way}-${i}`, name: 'get_ticket', args: { id: i } });
  const ways = [
    { name: 'bare', call: async (i: number) => check(await getTicket.invoke(tc(i, 'bare'), cfg), 'bare'), seconds: 0, cpu: 0 },
    { name: 'local', call: async (i: number) => check(await local.invoke(tc(i, 'local'), cfg), 'local'), seconds: 0, cpu: 0 },
    { name: 'local_rate', call: async (i: number) => check(await localRate.invoke(tc(i, 'local_rate'), cfgRate), 'local_rate'), seconds: 0, cpu: 0 },
  ];
  for (const w of ways) await load(warmup, 100, 10_000_000, w.call, null);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < ways.length; k++) {
      const w = ways[(r + k) % ways.length]!;
      const c0 = process.cpuUsage();
      w.seconds += await load(perRound, 100, r * perRound, w.call, null);
      const c = process.cpuUsage(c0);
      w.cpu += c.user + c.system;
    }
  }
  const calls = perRound * rounds;
  const way = (name: string) => ways.find((w) => w.name === name)!;
  const tput = (name: string) => calls / way(name).seconds;
  // CPU per call (main thread and helpers): what the ratios are made of, and far less sensitive to other load.
  const cpu = (name: string) => way(name).cpu / calls;
  const bare = tput('bare');
  const localRatio = tput('local') / bare;
  const rateRatio = tput('local_rate') / bare;
  return {
    metrics: {
      tool_calls_bare_per_s: Math.round(bare),
      local_throughput_ratio: round(localRatio),
      local_rate_limited_throughput_ratio: round(rateRatio),
      tool_calls_bare_cpu_us: round(cpu('bare')),
      local_added_cpu_us: round(cpu('local') - cpu('bare')),
      local_rate_added_cpu_us: round(cpu('local_rate') - cpu('bare')),
    },
    rows: [
      { name: `tool-calls (12 ms tool, 100 in flight, ${calls} calls per way): bare`, value: `${bare.toFixed(0)} calls/s, ${fmtUs(cpu('bare'))} CPU per call` },
      {
        name: 'CPU per call added by the guard: no limits / a rate limit on every call',
        value: `${fmtUs(cpu('local') - cpu('bare'))} / ${fmtUs(cpu('local_rate') - cpu('bare'))}`,
      },
      { name: 'local_throughput_ratio (no limits)', value: localRatio.toFixed(3), target: '>= 0.97', ok: localRatio >= 0.97 },
      { name: 'local_rate_limited_throughput_ratio (a rate limit on every call)', value: rateRatio.toFixed(3), target: '>= 0.97', ok: rateRatio >= 0.97 },
    ],
  };
}

export async function runLimits(ctx: BenchContext): Promise<BenchResult> {
  const failed: Record<string, string> = {};
  const m = await phase(failed, 'micro', () => micro(ctx, failed));
  const t = await phase(failed, 'tool_calls', () => toolCalls(ctx));
  const metrics: Record<string, number> = { ...(m?.metrics ?? {}), ...(t?.metrics ?? {}), limits_failed_phases: Object.keys(failed).length };
  for (const [k, v] of Object.entries(metrics)) if (!Number.isFinite(v)) delete metrics[k];
  const rows: BenchRow[] = [...(m?.rows ?? []), ...(t?.rows ?? []), ...Object.entries(failed).map(([k, v]) => ({ name: `phase ${k}`, value: `FAILED: ${v}` }))];
  return { metrics, rows };
}

export const limitsSuite: Suite = { name: 'limits', default: false, run: runLimits };
