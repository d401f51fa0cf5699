/**
 * With a replay store that answers synchronously (the in-memory default, or
 * one given explicitly), the Verifier's internal sync checks (src/verify/sync.ts)
 * return the Decision itself: the LangChain guard relies on that to check a
 * call without a promise. Any promise or thenable here, on any outcome, is a
 * failure. An asynchronous replay store is the one case that may return a
 * promise (checked last, so the detector below is known to see one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, CapframeError } from '../../src/index.ts';
import { createInvocationBatch } from '../../src/holder/invoke.ts';
import { Verifier, type Decision } from '../../src/verify/verifier.ts';
import { MemoryReplayStore, type ReplayStore } from '../../src/verify/replay.ts';
import { authorizeSync, verifyInvocationSync } from '../../src/verify/sync.ts';
import { ALICE, AUTH, T0, chain3, flip } from './helpers.ts';

function isThenable(v: unknown): boolean {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** The value returned synchronously, asserted to be a Decision and not a promise or thenable. */
function sync(r: unknown, what: string): Decision {
  assert.ok(!(r instanceof Promise), `${what} returned a promise`);
  assert.ok(!isThenable(r), `${what} returned a thenable`);
  assert.equal(typeof (r as Decision).allowed, 'boolean', `${what} did not return a Decision`);
  return r as Decision;
}

const CALL = { tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { id: 'alice' } };

function verifiers(): [string, Verifier][] {
  return [
    ['default replay store', new Verifier({ trusted: [AUTH.publicKey], clock: () => T0 })],
    ['explicit MemoryReplayStore', new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay: new MemoryReplayStore(1000) })],
    ['with a revocation check', new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, revocation: { check() {} } })],
  ];
}

test('the internal authorize check returns the decision synchronously on every outcome', () => {
  const { root } = chain3();
  const damaged = flip(root.bytes, root.bytes.length * 8 - 1); // a bit of the root signature
  for (const [name, v] of verifiers()) {
    const now = (token: unknown, call: unknown, what: string) => sync(v[authorizeSync](token as never, call as never), `${name}: ${what}`);
    assert.equal(now(root, { ...CALL, callId: 'a-1' }, 'allowed').allowed, true);
    assert.equal(now(root.toString(), { ...CALL, callId: 'a-2' }, 'allowed, text token').allowed, true);
    assert.equal(now(root, { ...CALL, callId: 'a-1' }, 'replay').allowed, false);
    assert.equal(now(root, { ...CALL, operation: 'delete', callId: 'a-3' }, 'operation outside the grant').allowed, false);
    assert.equal(now(root, { ...CALL, resource: 'database://orders/1', callId: 'a-4' }, 'resource outside the grant').allowed, false);
    assert.equal(now(root, { ...CALL, args: [], callId: 'a-5' }, 'arguments not an object').allowed, false);
    assert.equal(now(root, null, 'no call').allowed, false);
    assert.equal(now(damaged, { ...CALL, callId: 'a-6' }, 'damaged token').allowed, false);
    assert.equal(now('cft1.AAAA', { ...CALL, callId: 'a-7' }, 'garbage token').allowed, false);
  }
  const revoked = new Verifier({
    trusted: [AUTH.publicKey],
    clock: () => T0,
    revocation: {
      check() {
        throw new CapframeError('ERR_REVOKED', 'revoked');
      },
    },
  });
  const d = sync(revoked[authorizeSync](root, { ...CALL, callId: 'r-1' }), 'revoked token');
  assert.equal(d.allowed, false);
});

test('the internal invocation check returns the decision synchronously on every outcome, single and batched proofs', () => {
  const { root } = chain3();
  for (const [name, v] of verifiers()) {
    const now = (inv: unknown, expected: unknown, what: string) => sync(v[verifyInvocationSync](root, inv as never, expected as never), `${name}: ${what}`);
    const proof = createInvocation(root, { key: ALICE, ...CALL, callId: 's-1', clock: () => T0 });
    const expected = { tool: CALL.tool, args: CALL.args };
    assert.equal(now(proof, expected, 'allowed').allowed, true);
    assert.equal(now(proof.toString(), expected, 'replay, text proof').allowed, false);
    const other = createInvocation(root, { key: ALICE, ...CALL, callId: 's-2', clock: () => T0 });
    assert.equal(now(other.bytes, { ...expected, args: { id: 'bob' } }, 'arguments differ').allowed, false);
    assert.equal(now(other, { ...expected, tool: 'drop_table' }, 'another tool').allowed, false);
    assert.equal(now('cfi1.AAAA', expected, 'garbage proof').allowed, false);
    assert.equal(now(other, null, 'no expected call').allowed, false);
    const forged = createInvocation(chain3().root, { key: ALICE, ...CALL, callId: 's-3', clock: () => T0 });
    assert.equal(now(forged, expected, 'proof for another token').allowed, false);
    const batch = createInvocationBatch(
      root,
      ALICE,
      [
        { ...CALL, callId: 'b-1' },
        { ...CALL, callId: 'b-2' },
      ],
      { clock: () => T0 },
    );
    assert.equal(now(batch[0]!, expected, 'batched proof').allowed, true);
    assert.equal(now(batch[1]!.toString(), expected, 'batched proof, text').allowed, true);
    assert.equal(now(batch[1]!, expected, 'batched proof replayed').allowed, false);
  }
});

test('an asynchronous replay store is the case that returns a promise (the detector sees it)', async () => {
  const seen = new Set<string>();
  const asyncStore: ReplayStore = {
    async checkAndRecord(k) {
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    },
  };
  const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay: asyncStore });
  const { root } = chain3();
  const r = v[authorizeSync](root, { ...CALL, callId: 'x-1' });
  assert.ok(isThenable(r));
  assert.equal((await r).allowed, true);
  const p = v[verifyInvocationSync](root, createInvocation(root, { key: ALICE, ...CALL, callId: 'x-2', clock: () => T0 }), {
    tool: CALL.tool,
    args: CALL.args,
  });
  assert.ok(isThenable(p));
  assert.equal((await p).allowed, true);
});
