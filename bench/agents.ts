/**
 * Agents suite: a verifier in front of 10,000 agents. Each agent has its own
 * 2-block token (root + delegation); calls rotate through all of them, so a
 * count-bounded cache smaller than the fleet re-verifies every chain.
 *
 *   many_agents_check_us        verifyToken(text) per call once warm (the rotation)
 *   many_agents_verify_us       the same tokens on a cold verifier (full verification)
 *   many_agents_ratio           check / verify (target <= 0.1)
 *   cached_chain_bytes          heap per cached chain (after forced GCs), text keys included
 *   cached_chain_estimate_bytes what the cache's budget counts per chain
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { delegate, generateKey, issueToken, Verifier } from '../src/index.ts';
import { chainBytes, textBytes } from '../src/verify/verifier.ts';
import { nowNs, elapsedUs, round } from './stats.ts';
import type { BenchContext, BenchResult, Suite } from './suite.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function run(ctx: BenchContext): Promise<BenchResult> {
  const N = ctx.quick ? 1_000 : 10_000;
  const authority = generateKey();
  const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
  const texts: string[] = [];
  for (let i = 0; i < N; i++) {
    const agent = generateKey();
    const sub = generateKey();
    const root = issueToken({ key: authority, subject: `agent:${i}`, holder: agent.publicKey, grants, ttl: '1h', maxDepth: 1 });
    texts.push(delegate(root, { key: agent, to: sub.publicKey, subject: `agent:${i}:worker`, ttl: '30m' }).toString());
  }

  // Cold: every token verified once by a fresh verifier.
  const cold = new Verifier({ trusted: [authority.publicKey] });
  let t = nowNs();
  for (const s of texts) cold.verifyToken(s);
  const verifyUs = elapsedUs(t) / N;

  // Heap per cached chain: a verifier before and after caching all of them (texts already alive;
  // the cold verifier's caches emptied first so their collection does not offset the figure).
  cold.clearCaches();
  const before = heap();
  const v = new Verifier({ trusted: [authority.publicKey] });
  for (const s of texts) v.verifyToken(s);
  const cachedBytes = (heap() - before) / N;
  if (v.verifyToken(texts[0]!) === undefined) throw new Error('unreachable'); // keeps v alive across the measurement

  // Warm rotation: 10 passes over the fleet.
  const passes = ctx.quick ? 3 : 10;
  for (const s of texts) v.verifyToken(s);
  t = nowNs();
  for (let p = 0; p < passes; p++) for (const s of texts) v.verifyToken(s);
  const checkUs = elapsedUs(t) / (N * passes);
  const ratio = checkUs / verifyUs;
  const estimate = chainBytes(Buffer.from(texts[0]!.slice(5), 'base64url').length, 2) + textBytes(texts[0]!);

  return {
    metrics: {
      many_agents_check_us: round(checkUs, 3),
      many_agents_verify_us: round(verifyUs, 1),
      many_agents_ratio: round(ratio, 4),
      cached_chain_bytes: Math.round(cachedBytes),
      cached_chain_estimate_bytes: estimate,
    },
    rows: [
      { name: `${N} agents' 2-block tokens in rotation, per call once warm`, value: `${round(checkUs, 3)} us`, target: '<= 0.1 x verify', ok: ratio <= 0.1 },
      { name: 'the same tokens, full verification (cold verifier)', value: `${round(verifyUs, 1)} us` },
      {
        name: 'heap per cached 2-block chain (forced GC)',
        value: `${Math.round(cachedBytes)} bytes`,
        target: `budget counts ${estimate}`,
        ok: estimate >= cachedBytes,
      },
    ],
  };
}

export const agentsSuite: Suite = { name: 'agents', default: true, run };
