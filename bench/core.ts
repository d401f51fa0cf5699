/**
 * Core suite: raw Ed25519 against the two ways of checking a call,
 * chain depth with and without the verified-link cache, and wire sizes.
 * Every timing here is measured side by side in one interleaved run
 * (bench/stats.ts), so the ratios in the targets compare like with like.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { createInvocation, delegate, generateKey, issueToken, Verifier, type Decision, type Invocation, type PrivateKey, type Token } from '../src/index.ts';
import { signedMessage } from '../src/token/chain.ts';
import { compare, fmtUs, round, summarize, type Case } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';

const TOOL = 'read_user';
const OPERATION = 'read';
const RESOURCE = 'db://users/alice';
const ARGS = Object.freeze({ table: 'users', id: 'alice', fields: ['name', 'email'], limit: 10 });
/** Big enough that no measured call is refused for a full replay store. */
const REPLAY_CAPACITY = 2_000_000;

function expectAllowed(d: Decision, what: string): void {
  if (!d.allowed) throw new Error(`bench setup: ${what} was denied: ${d.code} ${d.reason}`);
}

interface Fixture {
  readonly authority: PrivateKey;
  readonly keys: readonly PrivateKey[];
  /** chains[n] is an n-block token (root + n-1 delegations), holder keys[n-1]. */
  readonly chains: Readonly<Record<1 | 2 | 3, Token>>;
}

function fixture(): Fixture {
  const authority = generateKey();
  const keys = [generateKey(), generateKey(), generateKey()];
  const root = issueToken({
    key: authority,
    subject: 'agent-1',
    holder: keys[0]!.publicKey,
    grants: [{ resource: 'db://users/*', permissions: ['read', 'write'] }],
    ttl: '1h',
    maxDepth: 2,
  });
  const two = delegate(root, { key: keys[0]!, to: keys[1]!.publicKey, subject: 'summarizer', permissions: ['read'], ttl: '10m' });
  const three = delegate(two, { key: keys[1]!, to: keys[2]!.publicKey, subject: 'summarizer-helper', ttl: '5m' });
  return { authority, keys, chains: { 1: root, 2: two, 3: three } };
}

function verifier(f: Fixture): Verifier {
  return new Verifier({ trusted: [f.authority.publicKey], replayCapacity: REPLAY_CAPACITY });
}

/** Wire sizes: deterministic apart from the token id and signatures, which have fixed lengths. */
function sizes(f: Fixture): { metrics: Record<string, number>; rows: BenchRow[] } {
  const holder = generateKey();
  const root = issueToken({
    key: f.authority,
    subject: 'agent-1',
    holder: holder.publicKey,
    grants: [{ resource: 'db://users/*', permissions: ['read'] }],
    ttl: '1h',
  });
  const readme = issueToken({
    key: f.authority,
    subject: 'agent:support',
    holder: holder.publicKey,
    grants: [{ resource: 'database://users/table', permissions: ['read', 'query'] }],
    ttl: '1h',
  });
  const parent = issueToken({
    key: f.authority,
    subject: 'agent-1',
    holder: holder.publicKey,
    grants: [{ resource: 'db://users/*', permissions: ['read', 'write'] }],
    ttl: '1h',
    maxDepth: 1,
  });
  const child = delegate(parent, { key: holder, to: generateKey().publicKey, subject: 'summarizer', permissions: ['read'], ttl: '10m' });
  const proof = createInvocation(f.chains[2], { key: f.keys[1]!, tool: TOOL, operation: OPERATION, resource: RESOURCE, args: ARGS });
  const m = {
    root_token_bytes: root.bytes.length,
    delegation_block_bytes: child.bytes.length - parent.bytes.length,
    invocation_bytes: proof.bytes.length,
  };
  return {
    metrics: m,
    rows: [
      { name: 'root token, one grant (binary)', value: `${m.root_token_bytes} B`, target: '<= 180 B', ok: m.root_token_bytes <= 180 },
      { name: 'root token, README example', value: `${readme.bytes.length} B (text ${readme.toString().length} chars)` },
      { name: 'delegation block (bytes added)', value: `${m.delegation_block_bytes} B`, target: '<= 150 B', ok: m.delegation_block_bytes <= 150 },
      { name: 'invocation proof', value: `${m.invocation_bytes} B (text ${proof.toString().length} chars)` },
    ],
  };
}

export async function runCore(ctx: BenchContext): Promise<BenchResult> {
  const f = fixture();
  const two = f.chains[2];

  // Raw node:crypto with cached KeyObjects, over a real invocation message.
  const sampleProof = createInvocation(two, { key: f.keys[1]!, tool: TOOL, operation: OPERATION, resource: RESOURCE, args: ARGS });
  const message = signedMessage('invocation', sampleProof.block.payload);
  const seed = f.keys[1]!.seed;
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv);
  const sig = nodeSign(null, message, priv);
  if (!nodeVerify(null, message, pub, sig)) throw new Error('bench setup: native verify failed');

  // One verifier per case so that their caches and replay stores do not interact.
  const vSigned = verifier(f);
  const vLocal = verifier(f);
  const vChain = verifier(f);
  const vUncached = verifier(f);
  for (const v of [vSigned, vLocal, vChain]) for (const t of [f.chains[1], two, f.chains[3]]) v.verifyToken(t.bytes);
  vSigned.verifyToken(two);
  vLocal.verifyToken(two);

  // The same call under a grant with 5 constraints of mixed kinds (format version 2): measured beside
  // local_check, so constraints5_check - local_check is the cost of the constraints.
  const cRoot = issueToken({
    key: f.authority,
    subject: 'agent-c',
    holder: f.keys[0]!.publicKey,
    ttl: '1h',
    maxDepth: 1,
    grants: [
      {
        resource: 'db://users/*',
        permissions: ['read', 'write'],
        tools: [TOOL],
        constraints: {
          table: { type: 'oneOf', values: ['users', 'orders'] },
          limit: { type: 'decimal', min: '1', max: '100.5' },
          'filter.owner': { type: 'regex', pattern: '[a-z]+@acme\\.example' },
          'filter.tags': { type: 'each', constraint: { type: 'prefix', prefix: 't-' } },
          callback: { type: 'url', scheme: 'https', host: '*.acme.example' },
        },
      },
    ],
  });
  const C_ARGS = {
    ...ARGS,
    table: 'users',
    limit: 10,
    filter: { owner: 'alice@acme.example', tags: ['t-1', 't-2'] },
    callback: 'https://hooks.acme.example/x',
  };
  const vConstrained = verifier(f);
  vConstrained.verifyToken(cRoot);
  expectAllowed(
    await vConstrained.authorize(cRoot, { tool: TOOL, operation: OPERATION, resource: RESOURCE, args: C_ARGS, callId: 'warm' }),
    'constraints5 setup',
  );
  const vPlain1 = verifier(f);
  vPlain1.verifyToken(f.chains[1]);

  // Remote-verifier shape for the chain cases: token and proof arrive as bytes.
  const proofFor = (n: 1 | 2 | 3, callId: string): Invocation =>
    createInvocation(f.chains[n], { key: f.keys[n - 1]!, tool: TOOL, operation: OPERATION, resource: RESOURCE, args: ARGS, callId });
  const expected = { tool: TOOL, args: ARGS };
  const chainBytes = { 1: f.chains[1].bytes, 3: f.chains[3].bytes } as const;
  const check = (d: Decision, what: string): void => expectAllowed(d, what);

  const cases: Case<any>[] = [
    { name: 'native_verify', run: () => nodeVerify(null, message, pub, sig) },
    { name: 'native_sign', run: () => nodeSign(null, message, priv) },
    {
      name: 'signed_check',
      prepare: (i) => `signed-${i}`,
      run: async (callId: string) => {
        const proof = createInvocation(two, { key: f.keys[1]!, tool: TOOL, operation: OPERATION, resource: RESOURCE, args: ARGS, callId });
        const d = await vSigned.verifyInvocation(two, proof, expected);
        if (!d.allowed) check(d, 'signed_check');
      },
    },
    {
      name: 'local_check',
      prepare: (i) => ({ tool: TOOL, operation: OPERATION, resource: RESOURCE, args: ARGS, callId: `local-${i}` }),
      run: async (call) => {
        const d = await vLocal.authorize(two, call);
        if (!d.allowed) check(d, 'local_check');
      },
    },
    {
      name: 'local_check_1block',
      prepare: (i) => ({ tool: TOOL, operation: OPERATION, resource: RESOURCE, args: C_ARGS, callId: `l1-${i}` }),
      run: async (call) => {
        const d = await vPlain1.authorize(f.chains[1], call);
        if (!d.allowed) check(d, 'local_check_1block');
      },
    },
    {
      name: 'constraints5_check',
      prepare: (i) => ({ tool: TOOL, operation: OPERATION, resource: RESOURCE, args: C_ARGS, callId: `c5-${i}` }),
      run: async (call) => {
        const d = await vConstrained.authorize(cRoot, call);
        if (!d.allowed) check(d, 'constraints5_check');
      },
    },
    {
      name: 'chain1_cached',
      prepare: (i) => proofFor(1, `c1-${i}`).bytes,
      run: async (proof: Uint8Array) => {
        const d = await vChain.verifyInvocation(chainBytes[1], proof, expected);
        if (!d.allowed) check(d, 'chain1_cached');
      },
    },
    {
      name: 'chain3_cached',
      prepare: (i) => proofFor(3, `c3-${i}`).bytes,
      run: async (proof: Uint8Array) => {
        const d = await vChain.verifyInvocation(chainBytes[3], proof, expected);
        if (!d.allowed) check(d, 'chain3_cached');
      },
    },
    {
      name: 'chain3_uncached',
      prepare: (i) => {
        const p = proofFor(3, `u3-${i}`).bytes;
        vUncached.clearCaches();
        return p;
      },
      run: async (proof: Uint8Array) => {
        const d = await vUncached.verifyInvocation(chainBytes[3], proof, expected);
        if (!d.allowed) check(d, 'chain3_uncached');
      },
    },
  ];

  const samples = await compare(cases, ctx.quick ? { warmup: 30, iterations: 150, rounds: 3 } : { warmup: 1500, iterations: 12_000, rounds: 24 });
  const s = (name: string) => summarize(samples.get(name)!);
  const nv = s('native_verify');
  const ns = s('native_sign');
  const sc = s('signed_check');
  const lc = s('local_check');
  const c1 = s('chain1_cached');
  const c3 = s('chain3_cached');
  const u3 = s('chain3_uncached');
  const l1 = s('local_check_1block');
  const k5 = s('constraints5_check');
  const extra = k5.p50 - l1.p50;

  const size = sizes(f);
  const metrics: Record<string, number> = {
    native_verify_us: round(nv.p50),
    native_sign_us: round(ns.p50),
    signed_check_us: round(sc.p50),
    signed_check_p99_us: round(sc.p99),
    local_check_us: round(lc.p50),
    local_check_p99_us: round(lc.p99),
    local_check_1block_us: round(l1.p50),
    constraints5_check_us: round(k5.p50),
    chain1_cached_us: round(c1.p50),
    chain3_cached_us: round(c3.p50),
    chain3_uncached_us: round(u3.p50),
    ...size.metrics,
  };
  const both = ns.p50 + nv.p50;
  const p = (x: { p50: number; p99: number }) => `${fmtUs(x.p50)}  (p99 ${fmtUs(x.p99)})`;
  const rows: BenchRow[] = [
    { name: 'native Ed25519 verify (node:crypto)', value: p(nv) },
    { name: 'native Ed25519 sign (node:crypto)', value: p(ns) },
    {
      name: 'signed check (create + verify, 2 blocks)',
      value: p(sc),
      target: `<= 1.5 x (sign + verify) = ${fmtUs(1.5 * both)}  [${(sc.p50 / both).toFixed(2)} x]`,
      ok: sc.p50 <= 1.5 * both,
    },
    {
      name: 'local check (authorize, 2 blocks)',
      value: p(lc),
      target: `<= 0.1 x verify = ${fmtUs(0.1 * nv.p50)}  [${(lc.p50 / nv.p50).toFixed(3)} x]`,
      ok: lc.p50 <= 0.1 * nv.p50,
    },
    {
      name: 'local check, 1 block, 5 mixed constraints (same args)',
      value: p(k5),
      target: `extra over 1 block without constraints (${fmtUs(l1.p50)}) <= 0.05 x verify = ${fmtUs(0.05 * nv.p50)}  [${fmtUs(extra)}]`,
      ok: extra <= 0.05 * nv.p50,
    },
    { name: 'verify proof, 1-block chain cached', value: p(c1) },
    {
      name: 'verify proof, 3-block chain cached',
      value: p(c3),
      target: `<= 1.2 x 1-block = ${fmtUs(1.2 * c1.p50)}  [${(c3.p50 / c1.p50).toFixed(2)} x]`,
      ok: c3.p50 <= 1.2 * c1.p50,
    },
    { name: 'verify proof, 3-block chain uncached', value: `${p(u3)}  [${(u3.p50 / nv.p50).toFixed(1)} x verify]` },
    ...size.rows,
  ];
  return { metrics, rows };
}

export const coreSuite: Suite = {
  name: 'core',
  default: true,
  run: runCore,
};
