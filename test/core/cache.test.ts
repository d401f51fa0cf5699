/**
 * The verified-link cache, counted with a wrapping backend: after warm-up,
 * authorize() costs 0 signature verifications and verifyInvocation() exactly 1,
 * whatever the chain depth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, issueToken, Token, type PrivateKey } from '../../src/index.ts';
import { ALICE, AUTH, T0, USERS_RW, assertAllowed, callId, chain3, countingBackend, key, verifier, CAROL } from './helpers.ts';

const clock = () => T0;
const call = () => ({ tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, callId: callId() });

test('3-block chain: 3 verifications once, then 0 per authorize() and exactly 1 per verifyInvocation()', async () => {
  const { grandchild } = chain3();
  const b = countingBackend();
  const v = verifier({ backend: b });
  assertAllowed(await v.authorize(grandchild, call()));
  assert.equal(b.verifies, 3, 'first use verifies each block once');
  b.reset();
  for (let i = 0; i < 5; i++) assertAllowed(await v.authorize(grandchild, call()));
  assert.equal(b.verifies, 0, 'authorize() on a cached chain does no signature work');
  // other input forms of the same token hit the cache too
  assertAllowed(await v.authorize(grandchild.toString(), call()));
  assertAllowed(await v.authorize(Uint8Array.from(grandchild.bytes), call()));
  assertAllowed(await v.authorize(Token.parse(grandchild.toString()), call()));
  assert.equal(b.verifies, 0);
  for (let i = 0; i < 5; i++) {
    b.reset();
    const p = createInvocation(grandchild, { key: CAROL, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { i }, clock });
    assertAllowed(await v.verifyInvocation(grandchild.toString(), p.toString(), { tool: 'get_user', args: { i } }));
    assert.equal(b.verifies, 1, 'verifyInvocation() costs the proof signature only');
  }
});

test('cost per cached call does not depend on depth (1 to 8 blocks after the root)', async () => {
  const b = countingBackend();
  const v = verifier({ backend: b });
  const keys: PrivateKey[] = Array.from({ length: 10 }, (_, i) => key(100 + i));
  let t = issueToken({ key: AUTH, subject: 'd0', holder: keys[0]!.publicKey, grants: [USERS_RW], ttl: 3600, maxDepth: 8, clock });
  for (let depth = 0; depth <= 8; depth++) {
    if (depth > 0) t = delegate(t, { key: keys[depth - 1]!, to: keys[depth]!.publicKey, subject: `d${depth}`, clock });
    b.reset();
    assertAllowed(await v.authorize(t, call()));
    assert.equal(b.verifies, 1, `depth ${depth}: only the new block is verified, its ancestors are cached`);
    b.reset();
    assertAllowed(await v.authorize(t, call()));
    assert.equal(b.verifies, 0, `depth ${depth}: authorize`);
    const p = createInvocation(t, { key: keys[depth]!, tool: 'get_user', operation: 'read', resource: 'database://users/x', args: {}, clock });
    assertAllowed(await v.verifyInvocation(t, p, { tool: 'get_user', args: {} }));
    assert.equal(b.verifies, 1, `depth ${depth}: verifyInvocation`);
  }
});

test('blocks stay verified when the chain cache evicts the chain (chainCacheSize 1)', async () => {
  const { root, child, grandchild } = chain3();
  const b = countingBackend();
  const v = verifier({ backend: b, chainCacheSize: 1 });
  assertAllowed(await v.authorize(grandchild, call()));
  assert.equal(b.verifies, 3);
  b.reset();
  assertAllowed(await v.authorize(root, call()));
  assertAllowed(await v.authorize(child.toString(), call()));
  assertAllowed(await v.authorize(grandchild.toString(), call()));
  assert.equal(b.verifies, 0, 'every block of these chains was verified before');
});

test('clearCaches() forces full re-verification', async () => {
  const { grandchild } = chain3();
  const b = countingBackend();
  const v = verifier({ backend: b });
  assertAllowed(await v.authorize(grandchild, call()));
  v.clearCaches();
  b.reset();
  assertAllowed(await v.authorize(grandchild, call()));
  assertAllowed(await v.authorize(grandchild.bytes, call()));
  assert.equal(b.verifies, 3);
});

test('tiny caches stay correct: alternating tokens with cache sizes of 1', async () => {
  const { grandchild } = chain3();
  const other = issueToken({ key: AUTH, subject: 'o', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 3600, clock });
  const b = countingBackend();
  const v = verifier({ backend: b, chainCacheSize: 1, signatureCacheSize: 1 });
  for (let i = 0; i < 4; i++) {
    assertAllowed(await v.authorize(grandchild.toString(), call()));
    assertAllowed(await v.authorize(other.toString(), call()));
  }
  assert.ok(b.verifies >= 8, 'evicted entries are verified again, not trusted blindly');
});

test('the same token text again is served from the cache; clearCaches() and an untrusted key still apply', async () => {
  const { grandchild } = chain3();
  const text = grandchild.toString();
  const b = countingBackend();
  const v = verifier({ backend: b });
  assertAllowed(await v.authorize(text, call()));
  assert.equal(b.verifies, 3);
  assertAllowed(await v.authorize(text, call()));
  assertAllowed(await v.authorize(`  ${text}\n`, call())); // other text, same bytes: the bytes cache
  assert.equal(b.verifies, 3);
  v.clearCaches();
  b.reset();
  assertAllowed(await v.authorize(text, call()));
  assert.equal(b.verifies, 3);
  v.keyring.remove(v.keyring.kids()[0]!);
  const d = await v.authorize(text, call());
  assert.equal(d.allowed ? 'OK' : d.code, 'ERR_UNKNOWN_KEY', 'a text cache hit never outlives the key that verified it');
});
