/**
 * Does the verifier-side direct payload reader earn its place? Measures, side
 * by side in one interleaved run (bench/stats.ts): decoding one invocation
 * payload with decodeInvocationPayload (direct reader, strict decoder as
 * fallback) and with the strict decoder alone, the verifier's check of a
 * signed proof, the check of one item of a batched proof (signature checked
 * once per 64 items), and the whole signed check of bench/core.ts (create + verify).
 * Run: npx tsx bench/invocation-decode.ts [--quick]
 */
import { loadavg } from 'node:os';
import { createInvocation, createInvocationBatch, delegate, generateKey, issueToken, Verifier } from '../src/index.ts';
import { decodeInvocationPayload, decodeInvocationPayloadStrict } from '../src/token/invocation-payload.ts';
import { compare, machineInfo, round, summarize } from './stats.ts';

const quick = process.argv.includes('--quick');
const TOOL = 'read_user';
const call = { tool: TOOL, operation: 'read', resource: 'db://users/alice', args: Object.freeze({ table: 'users', id: 'alice', fields: ['name', 'email'], limit: 10 }) };
const expected = { tool: TOOL, args: call.args };

const authority = generateKey();
const [k0, k1] = [generateKey(), generateKey()];
const root = issueToken({ key: authority, subject: 'agent-1', holder: k0.publicKey, grants: [{ resource: 'db://users/*', permissions: ['read', 'write'] }], ttl: '1h', maxDepth: 2 });
const two = delegate(root, { key: k0, to: k1.publicKey, subject: 'summarizer', permissions: ['read'], ttl: '10m' });
const vSigned = new Verifier({ trusted: [authority.publicKey], replayCapacity: 2_000_000 });
const vVerify = new Verifier({ trusted: [authority.publicKey], replayCapacity: 2_000_000 });
const vBatch = new Verifier({ trusted: [authority.publicKey], replayCapacity: 2_000_000 });
vSigned.verifyToken(two);
vVerify.verifyToken(two);
vBatch.verifyToken(two);
/** Item i of consecutive 64-call batches: the batch signature is checked on the first item only. */
let batch: ReturnType<typeof createInvocationBatch> = [];
const batchItem = (i: number) => {
  if (i % 64 === 0) batch = createInvocationBatch(two, k1, Array.from({ length: 64 }, (_, j) => ({ ...call, callId: `b-${i + j}` })));
  return batch[i % 64]!;
};
const payload = createInvocation(two, { key: k1, ...call, callId: 'sample' }).block.payload;

const load0 = loadavg();
const samples = await compare([
  { name: 'decode_fast', run: () => decodeInvocationPayload(payload) },
  { name: 'decode_strict', run: () => decodeInvocationPayloadStrict(payload) },
  {
    name: 'verify_only',
    prepare: (i) => createInvocation(two, { key: k1, ...call, callId: `v-${i}` }),
    run: async (proof) => { const d = await vVerify.verifyInvocation(two, proof as never, expected); if (!d.allowed) throw new Error(d.reason); },
  },
  {
    name: 'batch_item',
    prepare: (i) => batchItem(i),
    run: async (proof) => { const d = await vBatch.verifyInvocation(two, proof as never, expected); if (!d.allowed) throw new Error(d.reason); },
  },
  {
    name: 'signed_check',
    run: async (_x, i) => {
      const proof = createInvocation(two, { key: k1, ...call, callId: `s-${i}` });
      const d = await vSigned.verifyInvocation(two, proof, expected);
      if (!d.allowed) throw new Error(d.reason);
    },
  },
], quick ? { warmup: 30, iterations: 300, rounds: 3 } : { warmup: 1500, iterations: 12_000, rounds: 24 });
const load1 = loadavg();

const s = (n: string) => summarize(samples.get(n)!);
const fast = s('decode_fast'), strict = s('decode_strict'), verify = s('verify_only'), item = s('batch_item'), signed = s('signed_check');
const saved = strict.p50 - fast.p50;
console.log(machineInfo());
console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
for (const [n, x] of [['decode_fast', fast], ['decode_strict', strict], ['verify_only', verify], ['batch_item', item], ['signed_check', signed]] as const) {
  console.log(`${n.padEnd(14)} p50 ${x.p50.toFixed(2)} us  p99 ${x.p99.toFixed(2)} us`);
}
console.log(`reader saves ${saved.toFixed(2)} us = ${(100 * saved / signed.p50).toFixed(1)} % of a signed check, ${(100 * saved / verify.p50).toFixed(1)} % of the verifier's check, ${(100 * saved / item.p50).toFixed(1)} % of one batched item's check`);
console.log(JSON.stringify({
  decode_fast_us: round(fast.p50), decode_strict_us: round(strict.p50), verify_only_us: round(verify.p50), batch_item_us: round(item.p50), signed_check_us: round(signed.p50),
  saved_share_of_signed_check: round(saved / signed.p50), saved_share_of_verify: round(saved / verify.p50), saved_share_of_batch_item: round(saved / item.p50), loadavg_1m: round(load1[0]!),
}));
