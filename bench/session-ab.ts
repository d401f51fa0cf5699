/**
 * A/B of two variants of the session way in one run (a development tool):
 * two services (env A_ENV and B_ENV, JSON objects of environment variables
 * for each service process) and two RemoteVerifiers, with bare, A and B
 * interleaved in rotating order per round; globalThis.__variant is 'A' or
 * 'B' while that way runs (for client-side variants under test).
 *
 *   A_ENV='{}' B_ENV='{"X":"1"}' npx tsx bench/session-ab.ts [calls=10000] [inFlight=100] [rounds=6]
 *
 * Prints one JSON line per round and way, then a summary per way: mean of
 * the rounds' p50 latencies, added p50 over bare, throughput ratio to bare,
 * client and service CPU per call.
 */
import { readFileSync } from 'node:fs';
import { Guard, guardTool } from '../src/langchain/index.ts';
import { RemoteVerifier } from '../src/remote/client.ts';
import { spawnService } from '../src/server/child.ts';
import { percentile } from './stats.ts';
import { load, check } from './tool-calls.ts';
import { waitPastStart } from './support.ts';
import { getTicket, POLICY, processCpuUs as cpuOf, sessionBench } from './session-setup.ts';

const calls = Number(process.argv[2] ?? 10_000);
const inFlight = Number(process.argv[3] ?? 100);
const rounds = Number(process.argv[4] ?? 6);
const { holder, token, serviceKey, yaml, cleanup } = sessionBench();
const services = {
  A: await spawnService(yaml, JSON.parse(process.env.A_ENV ?? '{}') as NodeJS.ProcessEnv),
  B: await spawnService(yaml, JSON.parse(process.env.B_ENV ?? '{}') as NodeJS.ProcessEnv),
};
try {
  await waitPastStart();
  const config = { configurable: { capframe: { token, holderKey: holder } } };
  const verifiers = {
    A: new RemoteVerifier({ url: services.A.url, serviceKey: serviceKey.publicKey, timeout: 15_000 }),
    B: new RemoteVerifier({ url: services.B.url, serviceKey: serviceKey.publicKey, timeout: 15_000 }),
  };
  const tools = {
    A: guardTool(getTicket, new Guard({ verifier: verifiers.A, policies: POLICY, sink: null, attestAll: true })),
    B: guardTool(getTicket, new Guard({ verifier: verifiers.B, policies: POLICY, sink: null, attestAll: true })),
  };
  const g = globalThis as { __variant?: string };
  const ways: Record<string, { call: (i: number) => Promise<void>; pid?: number }> = {
    bare: { call: async (i) => check(await getTicket.invoke({ type: 'tool_call', id: `b-${i}`, name: 'get_ticket', args: { id: i } }, config), 'bare') },
    A: {
      call: async (i) => check(await tools.A.invoke({ type: 'tool_call', id: `A-${i}`, name: 'get_ticket', args: { id: i } }, config), 'A'),
      pid: services.A.pid,
    },
    B: {
      call: async (i) => check(await tools.B.invoke({ type: 'tool_call', id: `B-${i}`, name: 'get_ticket', args: { id: i } }, config), 'B'),
      pid: services.B.pid,
    },
  };
  const names = ['bare', 'A', 'B'];
  for (const n of names) {
    g.__variant = n;
    await load(3000, inFlight, 1e8, ways[n]!.call, null);
  }
  const sum: Record<string, { p50: number[]; secs: number; cli: number; svc: number; n: number }> = {};
  for (const n of names) sum[n] = { p50: [], secs: 0, cli: 0, svc: 0, n: 0 };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length]!;
      g.__variant = n;
      const lat: number[] = [];
      const c0 = process.cpuUsage();
      const pid = ways[n]!.pid;
      const s0 = pid ? cpuOf(pid) : 0;
      const secs = await load(calls, inFlight, r * calls + 1e6, ways[n]!.call, lat);
      const c = process.cpuUsage(c0);
      const s = pid ? cpuOf(pid) - s0 : 0;
      const w = sum[n]!;
      w.p50.push(percentile(lat, 50));
      w.secs += secs;
      w.cli += c.user + c.system;
      w.svc += s;
      w.n += calls;
      process.stdout.write(
        JSON.stringify({
          round: r,
          way: n,
          p50: +percentile(lat, 50).toFixed(3),
          perS: Math.round(calls / secs),
          cli: +((c.user + c.system) / calls).toFixed(1),
          svc: +(s / calls).toFixed(1),
        }) + '\n',
      );
    }
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const b = sum.bare!;
  const out: Record<string, unknown> = { load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
  for (const n of names) {
    const w = sum[n]!;
    out[n] = {
      p50: +mean(w.p50).toFixed(3),
      added: +(mean(w.p50) - mean(b.p50)).toFixed(3),
      addedPerRound: w.p50.map((x, i) => +(x - b.p50[i]!).toFixed(2)),
      ratio: +(b.secs / w.secs).toFixed(3),
      cli: +(w.cli / w.n).toFixed(1),
      svc: +(w.svc / w.n).toFixed(1),
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await verifiers.A.close();
  await verifiers.B.close();
} finally {
  await services.A.stop();
  await services.B.stop();
  cleanup();
}
