/**
 * Test vectors of rate limits and budgets (docs/spec.md §14.7):
 * test/vectors/limits.json. Deterministic like capframe-v1.json (keys and
 * token ids derived from fixed strings, a fixed clock, Ed25519 signatures);
 * test/vectors/limits.test.ts re-derives the file and runs every case.
 *
 * Run alone: `npx tsx scripts/vectors/limits.ts`; `npm run vectors` writes it too.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../../src/crypto/node.ts';
import { importSeed, type PrivateKey } from '../../src/crypto/keys.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { issueToken, type IssueOptions } from '../../src/authority/issue.ts';
import { delegate, type DelegateOptions } from '../../src/holder/delegate.ts';
import { encode, type CborMap, type CborValue } from '../../src/token/cbor.ts';
import { encodeDelegationPayload, type DelegationPayload } from '../../src/token/block.ts';
import { blockDigest, type Token } from '../../src/token/token.ts';
import { decodeChain, signedMessage } from '../../src/token/chain.ts';
import { Verifier, type Decision, type LocalCall } from '../../src/verify/verifier.ts';
import type { LimitError } from '../../src/errors.ts';
import { authorizeSync } from '../../src/verify/sync.ts';

/** The fixed clock of these vectors: 2026-01-01T00:00:00Z (a multiple of 86400). */
export const T0 = 1767225600;
const backend = nodeBackend();
const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const seedOf = (name: string) => sha(`capframe-v1 test vector key: ${name}`);
const tidOf = (name: string) => sha(`capframe-v1 test vector token id: ${name}`).slice(0, 16);
const hex = (b: Uint8Array) => toHex(b);
const at = (t: number) => () => t;

type KeyName = 'authority' | 'agent' | 'helper' | 'sub';
type Expect = { allowed: true } | { allowed: false; code: string; limit?: Record<string, unknown> };

/** What a decision says, in the vectors' terms. */
export function expectOf(d: Decision): Expect {
  if (d.allowed) return { allowed: true };
  if (d.code !== 'ERR_LIMIT') return { allowed: false, code: d.code };
  const l = (d.error as LimitError).limit!;
  return {
    allowed: false,
    code: d.code,
    limit: {
      block: l.block,
      grant: l.grant,
      kind: l.kind,
      limit: l.limit,
      ...(l.per !== undefined ? { per: l.per } : {}),
      ...(l.resetsAt !== undefined ? { resetsAt: l.resetsAt } : {}),
    },
  };
}

export function generateLimitVectors(): string {
  const names: KeyName[] = ['authority', 'agent', 'helper', 'sub'];
  const keys = Object.fromEntries(names.map((n) => [n, importSeed(seedOf(n), backend)])) as Record<KeyName, PrivateKey>;
  const issue = (name: string, o: Omit<IssueOptions, 'key' | 'clock' | 'backend' | 'tokenId'>) =>
    issueToken({ ...o, key: keys.authority, clock: at(T0), backend, tokenId: tidOf(name) });
  const deleg = (t: Token, from: KeyName, to: KeyName, o: Omit<DelegateOptions, 'key' | 'to' | 'clock' | 'backend'>) =>
    delegate(t, { ...o, key: keys[from], to: keys[to].publicKey, clock: at(T0), backend });

  const tokens: Record<string, unknown>[] = [];
  const tokenErrors: Record<string, unknown>[] = [];
  const sequences: Record<string, unknown>[] = [];
  const byName = new Map<string, Token>();

  function addToken(name: string, description: string, t: Token): void {
    byName.set(name, t);
    const chain = decodeChain(t);
    tokens.push({
      name,
      description,
      hex: hex(t.bytes),
      text: t.toString(),
      expect: {
        chainIds: chain.ids,
        version: chain.version,
        // Every block's effective grants (limits are per block), in the JSON of §11 plus rate and budget.
        blocks: chain.blocks.map((b) => ({
          inheritsGrants: b.inheritsGrants,
          grants: b.grants.map((g) => ({
            resource: g.resource,
            permissions: [...g.permissions],
            ...(g.rate ? { rate: { ...g.rate } } : {}),
            ...(g.budget ? { budget: { ...g.budget } } : {}),
          })),
        })),
      },
    });
  }
  function tokenError(name: string, description: string, bytes: Uint8Array, code: string): void {
    tokenErrors.push({ name, description, hex: hex(bytes), expect: { code } });
  }
  const root = (payload: Uint8Array) => {
    const kid = keys.authority.kid;
    return { kid, block: Uint8Array.from(Buffer.concat([payload, backend.sign(keys.authority.seed, signedMessage('root', payload, kid))])) };
  };
  const delegationBlock = (payload: Uint8Array, signer: KeyName) =>
    Uint8Array.from(Buffer.concat([payload, backend.sign(keys[signer].seed, signedMessage('delegation', payload))]));

  // ------------------------------------------------------------ valid tokens
  const grant = { resource: 'bank://acct/*', permissions: ['transfer'] };
  const rate = issue('limits-rate', {
    subject: 'agent:payer',
    holder: keys.agent.publicKey,
    grants: [{ ...grant, rate: { calls: 3, per: 3600 } }],
    ttl: 86400 * 3,
  });
  addToken('limits-rate', 'root: 3 calls per hour', rate);
  const budget = issue('limits-budget', {
    subject: 'agent:payer',
    holder: keys.agent.publicKey,
    grants: [{ ...grant, budget: { arg: 'amount', total: '0.3', per: 86400 } }],
    ttl: 86400 * 3,
    maxDepth: 3,
  });
  addToken('limits-budget', 'root: a total amount of 0.3 per day', budget);
  const both = issue('limits-both', {
    subject: 'agent:payer',
    holder: keys.agent.publicKey,
    grants: [
      { resource: 'bank://acct/*', permissions: ['read'] },
      { ...grant, rate: { calls: 100, per: 3600 }, budget: { arg: 'amount', total: '50' } },
    ],
    ttl: 86400,
    maxDepth: 3,
  });
  addToken('limits-both', 'root: an unlimited read grant, and transfers at 100 per hour with a lifetime total of 50', both);
  const childA = deleg(both, 'agent', 'helper', { subject: 'agent:a', grants: [{ ...grant, budget: { arg: 'amount', total: '30' } }] });
  addToken('limits-child-a', 'child of limits-both: lifetime budget 30 (and still the root limits)', childA);
  const childB = deleg(both, 'agent', 'sub', { subject: 'agent:b' });
  addToken('limits-child-b', 'child of limits-both without grants of its own: charged to the root grant only', childB);
  const grandchild = deleg(childA, 'helper', 'sub', { subject: 'agent:a1', grants: [{ ...grant, rate: { calls: 2, per: 60 } }] });
  addToken('limits-grandchild', 'child of limits-child-a: 2 calls per minute; three limited blocks', grandchild);

  // ------------------------------------------------------------ malformed and widened
  const rootPayload = (options: CborValue): Uint8Array => {
    const m: CborMap = new Map<number, CborValue>([
      [1, tidOf('limits-bad')],
      [2, 'agent:payer'],
      [3, keys.agent.publicKey],
      [4, [['bank://acct/*', ['transfer'], null, options]]],
      [5, T0],
      [7, T0 + 86400],
      [8, 1],
      [9, 2],
    ]);
    return encode(m);
  };
  const bad = (name: string, description: string, options: CborValue) => {
    const r = root(rootPayload(options));
    tokenError(name, description, encode([r.kid, r.block]), 'ERR_MALFORMED');
  };
  bad('limits-rate-zero-calls', 'rate [0, 60]', new Map([[3, [0, 60]]]));
  bad('limits-rate-zero-per', 'rate [10, 0]', new Map([[3, [10, 0]]]));
  bad('limits-rate-one-item', 'rate [10]', new Map([[3, [10]]]));
  bad('limits-rate-text', 'rate ["10", 60]', new Map([[3, ['10', 60]]]));
  bad('limits-budget-negative', 'budget ["amount", "-1"]', new Map([[4, ['amount', '-1']]]));
  bad('limits-budget-noncanonical', 'budget ["amount", "5.0"] (trailing zero)', new Map([[4, ['amount', '5.0']]]));
  bad('limits-budget-number', 'budget ["amount", 5] (total is text)', new Map([[4, ['amount', 5]]]));
  bad('limits-budget-19-digits', 'budget total with 19 fraction digits', new Map([[4, ['amount', '0.0000000000000000001']]]));
  bad('limits-budget-bad-path', 'budget on "amount..x"', new Map([[4, ['amount..x', '5']]]));
  bad('limits-budget-four-items', 'budget ["amount", "5", 60, 1]', new Map([[4, ['amount', '5', 60, 1]]]));
  bad('limits-unknown-option', 'options key 9', new Map([[9, true]]));
  {
    // The same root, with a rate option forced into its version-1 grant.
    const m = new Map<number, CborValue>([
      [1, tidOf('limits-v1')],
      [2, 'agent:payer'],
      [3, keys.agent.publicKey],
      [4, [['bank://acct/*', ['transfer'], null, new Map([[3, [10, 60]]])]]],
      [5, T0],
      [7, T0 + 86400],
      [8, 1],
      [9, 1],
    ]);
    const r = root(encode(m));
    tokenError('limits-v1-rate', 'version-1 root whose grant carries a rate option', encode([r.kid, r.block]), 'ERR_MALFORMED');
  }
  // Widened children, signed by hand (delegate() refuses them).
  const parentRaw = both.blocks[0]!;
  const base: DelegationPayload = { parent: blockDigest(parentRaw.payload), subject: 'agent:wide', holder: keys.helper.publicKey, maxDepth: 1 };
  const widened = (name: string, description: string, grants: DelegationPayload['grants']) =>
    tokenError(
      name,
      description,
      encode([both.kid, parentRaw.bytes, delegationBlock(encodeDelegationPayload({ ...base, grants }), 'agent')]),
      'ERR_ATTENUATION',
    );
  widened('limits-child-more-calls', 'child of limits-both: 101 calls per hour', [{ resource: 1, permissions: ['transfer'], rate: { calls: 101, per: 3600 } }]);
  widened('limits-child-shorter-per', 'child of limits-both: 100 calls per minute', [
    { resource: 1, permissions: ['transfer'], rate: { calls: 100, per: 60 } },
  ]);
  widened('limits-child-more-total', 'child of limits-both: lifetime total 50.5', [
    { resource: 1, permissions: ['transfer'], budget: { arg: 'amount', total: '50.5' } },
  ]);
  widened('limits-child-windowed-budget', 'child of limits-both: total 50 per day under a lifetime total', [
    { resource: 1, permissions: ['transfer'], budget: { arg: 'amount', total: '50', per: 86400 } },
  ]);

  // ------------------------------------------------------------ sequences
  let n = 0;
  const call = (args: Record<string, unknown>, operation = 'transfer'): LocalCall => ({
    tool: 'pay',
    operation,
    resource: 'bank://acct/7',
    args,
    callId: `lim-${n++}`,
  });
  /** Runs the steps on one fresh verifier (memory stores: synchronous) and records what it decided. */
  function sequence(name: string, description: string, steps: [token: string, now: number, call: LocalCall][]): void {
    let now = T0;
    const v = new Verifier({ trusted: [keys.authority.publicKey], clock: () => now, clockSkew: 30, invocationWindow: 30 });
    const out = steps.map(([token, t, c]) => {
      now = t;
      const d = v[authorizeSync](byName.get(token)!, c) as Decision;
      return { token, now: t, call: c, expect: expectOf(d) };
    });
    sequences.push({ name, description, steps: out });
  }
  const H = 3600;
  sequence('rate-window', '3 calls per hour: the 4th is refused until the next hour (T0 is an hour boundary)', [
    ['limits-rate', T0, call({})],
    ['limits-rate', T0 + 10, call({})],
    ['limits-rate', T0 + 20, call({})],
    ['limits-rate', T0 + 30, call({})],
    ['limits-rate', T0 + H - 1, call({})],
    ['limits-rate', T0 + H, call({})],
  ]);
  sequence('budget-exact-decimals', 'daily total 0.3: 0.1 then 0.2 fill it exactly; then 0.000000000000000001 is refused; the next day starts at 0', [
    ['limits-budget', T0, call({ amount: 0.1 })],
    ['limits-budget', T0 + 1, call({ amount: '0.2' })],
    ['limits-budget', T0 + 2, call({ amount: '0.000000000000000001' })],
    ['limits-budget', T0 + 3, call({ amount: 0 })],
    ['limits-budget', T0 + 86400, call({ amount: 0.1 + 0.2 })],
    ['limits-budget', T0 + 86401, call({ amount: 0.3 })],
  ]);
  sequence('budget-not-an-amount', 'budget arguments that are missing, negative or not decimals fail the grant (ERR_CONSTRAINT) and charge nothing', [
    ['limits-budget', T0, call({})],
    ['limits-budget', T0, call({ amount: -0.1 })],
    ['limits-budget', T0, call({ amount: '1e-1' })],
    ['limits-budget', T0, call({ amount: 0.3 })],
  ]);
  sequence('shared-parent', "two children and the root share the root's lifetime budget of 50; child a has its own 30; the grandchild adds 2 per minute", [
    ['limits-child-a', T0, call({ amount: 30 })],
    ['limits-child-a', T0 + 1, call({ amount: 1 })],
    ['limits-child-b', T0 + 2, call({ amount: 15 })],
    ['limits-both', T0 + 3, call({ amount: 5 })],
    ['limits-child-b', T0 + 4, call({ amount: 0.5 })],
    ['limits-both', T0 + 5, call({}, 'read')],
  ]);
  sequence('grandchild', 'a 3-block chain: the grandchild rate (2 per minute) refuses first; its refused call charges no block', [
    ['limits-grandchild', T0, call({ amount: 1 })],
    ['limits-grandchild', T0 + 1, call({ amount: 1 })],
    ['limits-grandchild', T0 + 2, call({ amount: 1 })],
    ['limits-child-a', T0 + 3, call({ amount: 28 })],
    ['limits-grandchild', T0 + 60, call({ amount: 0.5 })],
  ]);

  return JSON.stringify({ tokens, tokenErrors, sequences }, null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../../test/vectors/limits.json', import.meta.url), generateLimitVectors());
}
