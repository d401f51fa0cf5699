/**
 * Approvals suite (docs/spec.md §15): the cost of the approval step of a
 * call that needs M of N signed approvals, beside M raw Ed25519
 * verifications, measured side by side in one interleaved run. Every
 * measured check gets approvals it has never seen (signed beforehand,
 * untimed), as `cfa1.` text, the way they arrive from an interrupt or over
 * HTTP: parsing, matching and M signature checks, no cache.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { formatPublicKey, generateKey, issueToken, Verifier, type Decision } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { signApproval } from '../src/authority/approve.ts';
import { approvalSignedMessage } from '../src/token/approval.ts';
import { argsDigestHex } from '../src/token/args.ts';
import { decodeChain } from '../src/token/chain.ts';
import { checkApprovals, type GatedBlock } from '../src/verify/approvals.ts';
import { compare, fmtUs, round, summarize, type Case } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';

const TOOL = 'send_email';
const OP = 'send';
const RESOURCE = 'mail://outbox/bob';
const ARGS = Object.freeze({ to: 'bob@example.com', subject: 'Q3 numbers', body: 'See attached.' });

function allowed(d: Decision, what: string): void {
  if (!d.allowed) throw new Error(`bench setup: ${what} was denied: ${d.code} ${d.reason}`);
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const authority = generateKey();
  const agent = generateKey();
  const approvers = [generateKey(), generateKey(), generateKey()];
  const gated = (m: number) =>
    issueToken({
      key: authority,
      subject: 'agent:mailer',
      holder: agent.publicKey,
      grants: [
        {
          resource: 'mail://outbox/*',
          permissions: [OP],
          tools: [TOOL],
          approval: { approvers: approvers.map((k) => formatPublicKey(k.publicKey)), threshold: m },
        },
      ],
      ttl: '1h',
    });
  const t2 = gated(2);
  const t3 = gated(3);
  const plain = issueToken({
    key: authority,
    subject: 'agent:mailer',
    holder: agent.publicKey,
    grants: [{ resource: 'mail://outbox/*', permissions: [OP], tools: [TOOL] }],
    ttl: '1h',
  });
  const v = new Verifier({ trusted: [authority.publicKey], replayCapacity: 2_000_000 });
  const chains = { 2: v.verifyToken(t2), 3: v.verifyToken(t3) } as const;
  v.verifyToken(plain);
  const argsHex = argsDigestHex(ARGS);

  const iterations = ctx.quick ? 150 : 3000;
  const warmup = ctx.quick ? 20 : 300;
  const total = iterations + warmup;
  // Distinct approvals for every measured call (distinct call ids), signed before timing.
  const sign = async (m: 2 | 3, prefix: string): Promise<string[][]> => {
    const tip = decodeChain(m === 2 ? t2 : t3).tip;
    const out: string[][] = [];
    for (let i = 0; i < total; i++) {
      const callId = `${prefix}-${i}`;
      out.push(
        await Promise.all(
          approvers
            .slice(0, m)
            .map((k) => signApproval(keySigner(k, v.backend), { tip, tool: TOOL, operation: OP, resource: RESOURCE, args: ARGS, callId }).then(String)),
        ),
      );
    }
    return out;
  };
  const [a2, a3, full2] = await Promise.all([sign(2, 'a2'), sign(3, 'a3'), sign(2, 'g2')]);

  // Raw verification of an approval's own signed message, with a prepared KeyObject: the floor.
  const sample = await signApproval(keySigner(approvers[0]!, v.backend), {
    tip: chains[2].tip,
    tool: TOOL,
    operation: OP,
    resource: RESOURCE,
    args: ARGS,
    callId: 'x',
  });
  const message = approvalSignedMessage(sample.block.payload);
  const sig = sample.block.signature;
  const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), approvers[0]!.publicKey]), format: 'der', type: 'spki' });
  if (!nodeVerify(null, message, pub, sig)) throw new Error('bench setup: native verify failed');

  const gatedBlocks = (m: 2 | 3): GatedBlock[] => [{ index: 0, grants: chains[m].blocks[0]!.grants }];
  const facts = (i: number, prefix: string) => ({ tool: TOOL, operation: OP, resource: RESOURCE, argsHex, callId: `${prefix}-${i}` });
  const now = Math.floor(Date.now() / 1000);
  const step = (m: 2 | 3, list: string[][], prefix: string): Case<number> => ({
    name: `approval_check_m${m}`,
    prepare: (i) => i,
    run: (i) => checkApprovals(chains[m], facts(i, prefix), gatedBlocks(m), list[i]!, now, 30, v.backend),
  });
  const cases: Case<any>[] = [
    { name: 'native_verify', run: () => nodeVerify(null, message, pub, sig) },
    // M verifies in one timed sample: the same length class as an M-approval check, so that
    // preemption on a loaded machine weighs on both alike (per-sample medians favour short samples).
    { name: 'native_verify_x2', run: () => nodeVerify(null, message, pub, sig) && nodeVerify(null, message, pub, sig) },
    {
      name: 'native_verify_x3',
      run: () => nodeVerify(null, message, pub, sig) && nodeVerify(null, message, pub, sig) && nodeVerify(null, message, pub, sig),
    },
    step(2, a2, 'a2'),
    step(3, a3, 'a3'),
    {
      name: 'gated_local_check_m2',
      prepare: (i) => ({ tool: TOOL, operation: OP, resource: RESOURCE, args: ARGS, callId: `g2-${i}`, approvals: full2[i]! }),
      run: async (call) => allowed(await v.authorize(t2, call), 'gated_local_check_m2'),
    },
    {
      name: 'ungated_local_check',
      prepare: (i) => ({ tool: TOOL, operation: OP, resource: RESOURCE, args: ARGS, callId: `u-${i}` }),
      run: async (call) => allowed(await v.authorize(plain, call), 'ungated_local_check'),
    },
  ];
  const samples = await compare(cases, { warmup, iterations, rounds: ctx.quick ? 3 : 20 });
  const s = (n: string) => summarize(samples.get(n)!);
  const nv = s('native_verify');
  const nv2 = s('native_verify_x2');
  const nv3 = s('native_verify_x3');
  const m2 = s('approval_check_m2');
  const m3 = s('approval_check_m3');
  const g2 = s('gated_local_check_m2');
  const u = s('ungated_local_check');
  const r2 = m2.p50 / nv2.p50;
  const r3 = m3.p50 / nv3.p50;
  const metrics = {
    approval_check_us: round(m2.p50),
    approval_check_m2_us: round(m2.p50),
    approval_check_m3_us: round(m3.p50),
    approval_native_verify_us: round(nv.p50),
    approval_native_verify_x2_us: round(nv2.p50),
    approval_native_verify_x3_us: round(nv3.p50),
    approval_check_ratio_to_2x_single: round(m2.p50 / (2 * nv.p50)),
    approval_check_ratio: round(r2),
    approval_check_m3_ratio: round(r3),
    approval_gated_local_check_us: round(g2.p50),
    approval_ungated_local_check_us: round(u.p50),
  };
  const p = (x: { p50: number; p99: number }) => `${fmtUs(x.p50)}  (p99 ${fmtUs(x.p99)})`;
  const rows: BenchRow[] = [
    { name: 'native_verify (1 Ed25519 verify)', value: p(nv) },
    { name: 'native_verify x 2 (one sample)', value: p(nv2) },
    { name: 'native_verify x 3 (one sample)', value: p(nv3) },
    { name: 'approval_check_us (M=2, 2-of-3)', value: p(m2), target: `<= 1.2 x 2 verifies (${fmtUs(1.2 * nv2.p50)})`, ok: r2 <= 1.2 },
    { name: '  ratio to 2 verifies / to 2 x single', value: `${r2.toFixed(2)} / ${(m2.p50 / (2 * nv.p50)).toFixed(2)}` },
    { name: 'approval_check_m3_us (M=3, 3-of-3)', value: p(m3), target: `<= 1.2 x 3 verifies (${fmtUs(1.2 * nv3.p50)})`, ok: r3 <= 1.2 },
    { name: '  ratio to 3 verifies / to 3 x single', value: `${r3.toFixed(2)} / ${(m3.p50 / (3 * nv.p50)).toFixed(2)}` },
    { name: 'local check, 2-of-3 gate, 2 approvals', value: p(g2) },
    { name: 'local check, same grant without a gate', value: p(u) },
  ];
  return { metrics, rows };
}

export const approvalsSuite: Suite = { name: 'approvals', default: false, run };
