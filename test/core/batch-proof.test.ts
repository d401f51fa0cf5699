/**
 * Batched invocation proofs (docs/spec.md §4.4): one holder signature over a
 * list of item digests; each proof authenticates its own call by inclusion;
 * the verifier checks the batch signature once (cached) for all of them, then
 * applies the same rules as to a single proof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, Invocation } from '../../src/index.ts';
import { createInvocationBatch, type BatchCall } from '../../src/holder/invoke.ts';
import { LIMITS } from '../../src/token/limits.ts';
import { encode } from '../../src/token/cbor.ts';
import { batchSignedMessage, encodeBatchPayload, invocationItemDigest } from '../../src/token/invocation-batch.ts';
import { issueToken } from '../../src/index.ts';
import { ALICE, AUTH, MALLORY, T0, USERS_RW, assertAllowed, assertDenied, assertThrowsCode, backend, countingBackend, verifier } from './helpers.ts';

const clock = () => T0;
const token = issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', clock });
let seq = 0;
const calls = (n: number): BatchCall[] =>
  Array.from({ length: n }, (_, i) => ({
    tool: 'get_user',
    operation: 'read',
    resource: `database://users/u${i}`,
    args: { n: i },
    callId: `bp-${++seq}`,
  }));
const expected = (c: Pick<BatchCall, 'tool' | 'args'> & Partial<BatchCall>) => ({ tool: c.tool, args: c.args, operation: c.operation, resource: c.resource });

/** A batched proof rebuilt from parts (for tampering). */
function rebuild(p: Invocation, over: { item?: Uint8Array; batch?: Uint8Array; sig?: Uint8Array; index?: number }): Uint8Array {
  return encode([over.item ?? p.block.payload, over.batch ?? p.batch!.payload, over.sig ?? p.block.signature, over.index ?? p.batch!.index]);
}

test('a batch of 3: one signature, each proof verifies once, a replayed item is ERR_REPLAY', async () => {
  const cs = calls(3);
  const proofs = createInvocationBatch(token, ALICE, cs, { clock });
  assert.equal(proofs.length, 3);
  assert.ok(proofs.every((p) => p.batch !== undefined && p.toString().startsWith('cfb1.')));
  assert.deepEqual(
    proofs.map((p) => p.batch!.index),
    [0, 1, 2],
  );
  assert.ok(
    proofs.every((p) => Buffer.from(p.block.signature).equals(Buffer.from(proofs[0]!.block.signature))),
    'one signature for the batch',
  );
  const v = verifier();
  for (let i = 0; i < 3; i++) {
    // text, bytes and object forms all parse to the same proof
    const input = i === 0 ? proofs[i]!.toString() : i === 1 ? Uint8Array.from(proofs[i]!.bytes) : proofs[i]!;
    const d = await v.verifyInvocation(token, input, expected(cs[i]!));
    assertAllowed(d);
    assert.equal(d.mode, 'signed');
    assert.equal(d.callId, cs[i]!.callId);
    assert.equal(d.resource, cs[i]!.resource);
  }
  assertDenied(await v.verifyInvocation(token, proofs[1]!.toString(), expected(cs[1]!)), 'ERR_REPLAY');
  assert.equal(Invocation.parse(proofs[2]!.toString()).toString(), proofs[2]!.toString(), 'text form round-trips');
});

test('after the first item, the other items of a batch cost 0 Ed25519 verifications', async () => {
  const cs = calls(8);
  const proofs = createInvocationBatch(token, ALICE, cs, { clock });
  const b = countingBackend();
  const v = verifier({ backend: b });
  assertAllowed(await v.verifyInvocation(token, proofs[0]!.toString(), expected(cs[0]!)));
  assert.equal(b.verifies, 2, 'first item: the root block and the batch signature');
  b.reset();
  for (let i = 1; i < 8; i++) assertAllowed(await v.verifyInvocation(token, proofs[i]!.toString(), expected(cs[i]!)));
  assert.equal(b.verifies, 0, 'items 2..8: the batch signature is cached');
  // A different batch is a different signature: verified once.
  const more = calls(2);
  const p2 = createInvocationBatch(token, ALICE, more, { clock });
  assertAllowed(await v.verifyInvocation(token, p2[0]!, expected(more[0]!)));
  assertAllowed(await v.verifyInvocation(token, p2[1]!, expected(more[1]!)));
  assert.equal(b.verifies, 1);
});

test('tampered item, wrong index, foreign item, non-holder signer and a flipped signature bit are denied', async () => {
  const cs = calls(3);
  const proofs = createInvocationBatch(token, ALICE, cs, { clock });
  const p = proofs[1]!;
  const v = verifier();
  // Tampered item payload: its digest is no longer the one at its index.
  const item = Uint8Array.from(p.block.payload);
  item[item.length - 1]! ^= 1;
  assertDenied(await v.verifyInvocation(token, rebuild(p, { item }), expected(cs[1]!)), 'ERR_INVOCATION_MISMATCH', 'tampered item');
  // Another item's index, or one past the end.
  assertDenied(await v.verifyInvocation(token, rebuild(p, { index: 0 }), expected(cs[1]!)), 'ERR_INVOCATION_MISMATCH', 'wrong index');
  assertDenied(await v.verifyInvocation(token, rebuild(p, { index: 3 }), expected(cs[1]!)), 'ERR_INVOCATION_MISMATCH', 'index out of range');
  // An item of another batch presented with this batch and signature.
  const other = createInvocationBatch(token, ALICE, calls(3), { clock })[1]!;
  assertDenied(await v.verifyInvocation(token, rebuild(p, { item: other.block.payload }), expected(cs[1]!)), 'ERR_INVOCATION_MISMATCH', 'foreign item');
  // A batch that lists the items, signed by a key that is not the holder's.
  const batch = encodeBatchPayload([invocationItemDigest(p.block.payload)]);
  const mallorySig = backend.sign(MALLORY.seed, batchSignedMessage(batch));
  assertDenied(
    await v.verifyInvocation(token, rebuild(p, { batch, sig: mallorySig, index: 0 }), expected(cs[1]!)),
    'ERR_SIGNATURE_INVALID',
    'non-holder signer',
  );
  // One flipped bit in the batch signature.
  const sig = Uint8Array.from(p.block.signature);
  sig[10]! ^= 0x04;
  assertDenied(await v.verifyInvocation(token, rebuild(p, { sig }), expected(cs[1]!)), 'ERR_SIGNATURE_INVALID', 'signature bit flip');
  // A batch payload changed after signing (an extra digest): the signature no longer covers it.
  const longer = encodeBatchPayload([...p.batch!.digests, new Uint8Array(32)]);
  assertDenied(await v.verifyInvocation(token, rebuild(p, { batch: longer }), expected(cs[1]!)), 'ERR_SIGNATURE_INVALID', 'batch changed');
  // None of the rejected attempts used the item up: the genuine proof still verifies once.
  assertAllowed(await v.verifyInvocation(token, p, expected(cs[1]!)));
});

test('the same rules as single proofs: arguments, tool, token and expiry', async () => {
  const cs = calls(3);
  const proofs = createInvocationBatch(token, ALICE, cs, { clock });
  const v = verifier();
  assertDenied(await v.verifyInvocation(token, proofs[0]!, { ...expected(cs[0]!), args: { n: 99 } }), 'ERR_INVOCATION_MISMATCH', 'other arguments');
  assertDenied(await v.verifyInvocation(token, proofs[1]!, { ...expected(cs[1]!), tool: 'delete_user' }), 'ERR_INVOCATION_MISMATCH', 'other tool');
  const otherToken = issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', clock });
  assertDenied(await v.verifyInvocation(otherToken, proofs[2]!, expected(cs[2]!)), 'ERR_INVOCATION_MISMATCH', 'other token, same holder');
  const later = verifier({ clock: () => T0 + 3600 });
  assertDenied(await later.verifyInvocation(token, proofs[2]!, expected(cs[2]!)), 'ERR_EXPIRED');
  const scoped = createInvocationBatch(
    token,
    ALICE,
    [{ tool: 'get_user', operation: 'delete', resource: 'database://users/x', args: {}, callId: 'bp-del' }, ...calls(1)],
    { clock },
  );
  assertDenied(await v.verifyInvocation(token, scoped[0]!, { tool: 'get_user', args: {} }), 'ERR_SCOPE_PERMISSION');
});

test('holder side: only the holder key, 1 to 64 calls, call fields checked; single proofs unchanged', async () => {
  assertThrowsCode(() => createInvocationBatch(token, MALLORY, calls(2)), 'ERR_INVALID_ARGUMENT');
  assertThrowsCode(() => createInvocationBatch(token, ALICE, []), 'ERR_INVALID_ARGUMENT');
  assertThrowsCode(() => createInvocationBatch(token, ALICE, calls(LIMITS.maxInvocationBatch + 1)), 'ERR_INVALID_ARGUMENT');
  assertThrowsCode(() => createInvocationBatch(token, ALICE, [{ ...calls(1)[0]!, ttl: 301 }]), 'ERR_INVALID_ARGUMENT');
  const big = createInvocationBatch(token, ALICE, calls(LIMITS.maxInvocationBatch), { clock });
  assert.equal(big.length, 64);
  assert.ok(big[63]!.bytes.length < LIMITS.maxBatchedInvocationBytes);
  assertAllowed(
    await verifier().verifyInvocation(
      token,
      big[63]!.toString(),
      expected({ tool: 'get_user', operation: 'read', resource: 'database://users/u63', args: { n: 63 } }),
    ),
  );
  // Single proofs: same form and behaviour as before.
  const single = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/a', args: {}, clock });
  assert.equal(single.batch, undefined);
  assert.ok(single.toString().startsWith('cfi1.'));
  assertAllowed(await verifier().verifyInvocation(token, single.toString(), { tool: 'get_user', args: {} }));
  // Envelope errors of the batched form are ERR_MALFORMED / ERR_TOO_LARGE.
  const p = big[0]!;
  assertThrowsCode(() => Invocation.parse(encode([p.block.payload, p.batch!.payload, p.block.signature])), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.parse(encode([p.block.payload, p.batch!.payload, p.block.signature.subarray(0, 63), 0])), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.parse(encode([p.block.payload, encode([new Uint8Array(31)]), p.block.signature, 0])), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.parse(encode([p.block.payload, encode([]), p.block.signature, 0])), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.parse('cfb1.' + 'A'.repeat(12_000)), 'ERR_TOO_LARGE');
  assertDenied(
    await verifier().verifyInvocation(token, encode([p.block.payload, p.batch!.payload, p.block.signature, -1]), expected({ tool: 'get_user', args: {} })),
    'ERR_MALFORMED',
  );
});

test('a signed batch received as parts (§4.5) gives exactly the batched proofs, byte for byte', async () => {
  for (const n of [2, 30, LIMITS.maxInvocationBatch]) {
    const cs = calls(n);
    const proofs = createInvocationBatch(token, ALICE, cs, { clock });
    const parts = Invocation.batchParts(proofs[0]!.batch!.payload, proofs[0]!.block.signature);
    for (let i = 0; i < n; i++) {
      const p = Invocation.fromBatchItem(proofs[i]!.block.payload, parts, i);
      assert.ok(Buffer.from(p.bytes).equals(proofs[i]!.bytes), `item ${i} of ${n}`);
      assert.equal(p.toString(), proofs[i]!.toString());
      assert.ok(Buffer.from(Invocation.parse(p.toString()).bytes).equals(proofs[i]!.bytes));
    }
    const v = verifier();
    for (let i = 0; i < Math.min(n, 3); i++)
      assertAllowed(await v.verifyInvocation(token, Invocation.fromBatchItem(proofs[i]!.block.payload, parts, i), expected(cs[i]!)));
  }
  const proofs = createInvocationBatch(token, ALICE, calls(2), { clock });
  assertThrowsCode(() => Invocation.batchParts(proofs[0]!.batch!.payload, new Uint8Array(63)), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.batchParts(new Uint8Array([0x80]), proofs[0]!.block.signature), 'ERR_MALFORMED');
  const parts = Invocation.batchParts(proofs[0]!.batch!.payload, proofs[0]!.block.signature);
  assertThrowsCode(() => Invocation.fromBatchItem(new Uint8Array(0), parts, 0), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.fromBatchItem(proofs[0]!.block.payload, parts, -1), 'ERR_MALFORMED');
  assertThrowsCode(() => Invocation.fromBatchItem(new Uint8Array(LIMITS.maxBatchedInvocationBytes), parts, 0), 'ERR_TOO_LARGE');
});

test('the per-batch signature cache is used only for the very bytes that were checked', async () => {
  const cs = calls(2);
  const proofs = createInvocationBatch(token, ALICE, cs, { clock });
  const parts = Invocation.batchParts(proofs[0]!.batch!.payload, proofs[0]!.block.signature);
  const counting = countingBackend();
  const v = verifier({ backend: counting });
  assertAllowed(await v.verifyInvocation(token, Invocation.fromBatchItem(proofs[0]!.block.payload, parts, 0), expected(cs[0]!)));
  const afterFirst = counting.verifies;
  // Someone with the parts object rewrites item 1's digest to cover a forged call.
  const forgedCall = { ...cs[1]!, resource: 'database://users/admin', callId: 'forged' };
  const forged = createInvocationBatch(token, ALICE, [forgedCall], { clock })[0]!.block.payload;
  const d = invocationItemDigest(forged);
  const at = proofs[1]!.batch!.digests[1]!.byteOffset - proofs[1]!.batch!.payload.byteOffset;
  parts.payload.set(d, at);
  assertDenied(await v.verifyInvocation(token, Invocation.fromBatchItem(forged, parts, 1), expected(forgedCall)), 'ERR_SIGNATURE_INVALID');
  assert.ok(counting.verifies > afterFirst, 'the signature was checked again, over the changed bytes');
});

test('a batched proof is checked against the digest in the signed payload, never a list beside it', async () => {
  const cs = calls(1);
  const legit = createInvocationBatch(token, ALICE, cs, { clock });
  const v = verifier();
  assertAllowed(await v.verifyInvocation(token, legit[0]!, expected(cs[0]!)));
  // A forged item with a digest list of its own, next to a genuine (public) signed batch.
  const evil = { ...cs[0]!, operation: 'write', resource: 'database://users/admin', callId: 'evil' };
  const forged = createInvocationBatch(token, ALICE, [evil], { clock })[0]!.block.payload; // any well-formed payload
  const parts = { payload: legit[0]!.batch!.payload, signature: legit[0]!.block.signature, digests: Object.freeze([invocationItemDigest(forged)]) };
  assertThrowsCode(() => Invocation.fromBatchItem(forged, parts, 0), 'ERR_INVALID_ARGUMENT');
  // Through the checked constructor the forged item is not the listed one.
  const real = Invocation.batchParts(legit[0]!.batch!.payload, legit[0]!.block.signature);
  assertDenied(await v.verifyInvocation(token, Invocation.fromBatchItem(forged, real, 0), expected(evil)), 'ERR_INVOCATION_MISMATCH');
});
