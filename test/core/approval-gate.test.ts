/**
 * The approval gate of a grant (docs/spec.md §15.1, §15.4): issuing and
 * delegating it (never dropped), how blocks and grants combine, and both
 * verification paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { signApproval } from '../../src/authority/approve.ts';
import { ApprovalRequiredError, type CapframeError } from '../../src/errors.ts';
import { decodeChain } from '../../src/token/chain.ts';
import type { Token } from '../../src/token/token.ts';

const authority = generateKey();
const agent = generateKey();
const helper = generateKey();
const [a1, a2, a3] = [generateKey(), generateKey(), generateKey()];
const outsider = generateKey();
const cfk = (k: { publicKey: Uint8Array }) => formatPublicKey(k.publicKey);
const gate = (threshold: number, ...ks: { publicKey: Uint8Array }[]) => ({ approvers: ks.map(cfk), threshold });
const send = { resource: 'mail://outbox/*', permissions: ['send'] };

function root(grants: object[]): Token {
  return issueToken({ key: authority, subject: 'agent:a', holder: agent.publicKey, grants: grants as never, ttl: '1h', maxDepth: 2 });
}
const call = (callId: string) => ({ tool: 'send_email', operation: 'send', resource: 'mail://outbox/bob', args: { to: 'bob' }, callId });
const approve = (k: typeof a1, t: Token, callId: string) => signApproval(keySigner(k), { tip: decodeChain(t).tip, ...call(callId) });
const code = (e: unknown) => (e as CapframeError).code;

test('issuing: the gate is validated (threshold 1..n, keys unique, cfk1. or bytes) and makes a version-2 token', () => {
  const t = root([{ ...send, approval: gate(2, a1, a2, a3) }]);
  assert.equal(decodeChain(t).version, 2);
  const g = decodeChain(t).blocks[0]!.grants[0]!.approval!;
  assert.equal(g.threshold, 2);
  assert.equal(g.approvers.length, 3);
  for (const bad of [
    gate(0, a1),
    gate(2, a1),
    { approvers: [cfk(a1), cfk(a1)], threshold: 1 },
    { approvers: ['alice'], threshold: 1 },
    { approvers: [], threshold: 1 },
  ]) {
    assert.throws(
      () => root([{ ...send, approval: bad }]),
      (e) => code(e) === 'ERR_INVALID_ARGUMENT',
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => root([{ ...send, approval: { ...gate(1, a1), extra: 1 } }]),
    (e) => code(e) === 'ERR_INVALID_ARGUMENT',
  );
  // Bytes are accepted too.
  root([{ ...send, approval: { approvers: [a1.publicKey], threshold: 1 } }]);
});

test('delegation keeps the gate: raise the threshold or shrink the approvers; dropping or widening it is ERR_ATTENUATION', () => {
  const t = root([{ ...send, approval: gate(2, a1, a2, a3) }]);
  const to = { key: agent, to: helper.publicKey, subject: 'agent:h' };
  // Narrowing by permissions keeps the gate.
  const narrowed = delegate(t, { ...to, permissions: ['send'] });
  assert.equal(decodeChain(narrowed).blocks[1]!.grants[0]!.approval!.threshold, 2);
  delegate(t, { ...to, grants: [{ ...send, approval: gate(3, a1, a2, a3) }] });
  delegate(t, { ...to, grants: [{ ...send, approval: gate(2, a1, a2) }] });
  for (const g of [{ ...send }, { ...send, approval: gate(1, a1, a2, a3) }, { ...send, approval: gate(2, a1, a2, outsider) }]) {
    assert.throws(
      () => delegate(t, { ...to, grants: [g] }),
      (e) => code(e) === 'ERR_ATTENUATION',
      JSON.stringify(g),
    );
  }
  // A gate may be added where the parent had none (a version-2 root); a version-1 root cannot take one.
  assert.throws(
    () => delegate(root([send]), { ...to, grants: [{ ...send, approval: gate(1, a1) }] }),
    (e) => code(e) === 'ERR_INVALID_ARGUMENT',
  );
  delegate(root([{ ...send, tools: ['send_email'] }]), { ...to, grants: [{ ...send, tools: ['send_email'], approval: gate(1, a1) }] });
});

test('a block needs approval only when every grant matching the call is gated', async () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  const both = root([
    { ...send, approval: gate(2, a1, a2) },
    { resource: 'mail://outbox/bob', permissions: ['send'] },
  ]);
  assert.equal((await v.authorize(both, call('m-1'))).allowed, true);
  // Two gated grants: either one's threshold suffices.
  const two = root([
    { ...send, approval: gate(2, a1, a2) },
    { resource: 'mail://outbox/bob', permissions: ['send'], approval: gate(1, a3) },
  ]);
  const d = await v.authorize(two, call('m-2'));
  assert.ok(!d.allowed && d.error instanceof ApprovalRequiredError);
  assert.deepEqual([d.error.got, d.error.need], [0, 2], 'reports the first matching grant');
  assert.equal((await v.authorize(two, { ...call('m-2'), approvals: [await approve(a3, two, 'm-2')] })).allowed, true);
});

test('every block’s gate applies: a child gate added under an ungated parent grant', async () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  // A version-2 root (tools) without a gate; the child adds one.
  const parent = root([{ ...send, tools: ['send_email'] }]);
  const child = delegate(parent, { key: agent, to: helper.publicKey, subject: 'agent:h', grants: [{ ...send, tools: ['send_email'], approval: gate(1, a2) }] });
  const d = await v.authorize(child, call('b-1'));
  assert.ok(!d.allowed && d.error instanceof ApprovalRequiredError && d.error.need === 1);
  assert.match(d.reason, /delegation block 1/);
  assert.equal((await v.authorize(child, { ...call('b-1'), approvals: [await approve(a2, child, 'b-1')] })).allowed, true);
});

test('signed path: approvals come with the expected call; other checks come first', async () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  const t = root([{ ...send, approval: gate(2, a1, a2, a3) }]);
  const proof = createInvocation(t, { key: agent, ...call('s-1') });
  const expected = { tool: 'send_email', args: { to: 'bob' }, operation: 'send', resource: 'mail://outbox/bob' };
  const none = await v.verifyInvocation(t, proof, expected);
  assert.ok(!none.allowed && none.code === 'ERR_APPROVAL_REQUIRED');
  const approvals = [await approve(a1, t, 's-1'), await approve(a3, t, 's-1')];
  assert.equal((await v.verifyInvocation(t, proof, { ...expected, approvals })).allowed, true);
  // Out of scope is out of scope, whatever approvals come with it.
  const out = await v.authorize(t, { ...call('s-2'), resource: 'mail://inbox/x', approvals });
  assert.equal(out.allowed ? 'OK' : out.code, 'ERR_SCOPE_RESOURCE');
});

test('more than 16 approvals on one call is ERR_TOO_LARGE; junk entries are ignored', async () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  const t = root([{ ...send, approval: gate(1, a1) }]);
  const many = Array.from({ length: 17 }, () => 'cfa1.AAAA');
  const d = await v.authorize(t, { ...call('l-1'), approvals: many });
  assert.equal(d.allowed ? 'OK' : d.code, 'ERR_TOO_LARGE');
  const junk = await v.authorize(t, { ...call('l-2'), approvals: ['nonsense', new Uint8Array(3), (await approve(a1, t, 'l-2')).toString()] });
  assert.equal(junk.allowed, true);
  const ungated = root([send]);
  assert.equal((await v.authorize(ungated, { ...call('l-3'), approvals: many })).allowed, true, 'approvals are not looked at without a gate');
});
