/** Unknown authority keys, key rotation and removal, and that caches never outlive a removed key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, formatPublicKey, inspect, issueToken, Keyring, Verifier } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { ALICE, AUTH, BOB, MALLORY, T0, USERS_RW, assertAllowed, assertDenied, assertThrowsCode, callId, countingBackend, key } from './helpers.ts';

const clock = () => T0;
const call = () => ({ tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, callId: callId() });

test('a token from an untrusted authority: ERR_UNKNOWN_KEY on both paths', async () => {
  const token = issueToken({ key: MALLORY, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 60, clock });
  const v = new Verifier({ trusted: [AUTH.publicKey], clock });
  assertDenied(await v.authorize(token, call()), 'ERR_UNKNOWN_KEY');
  const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
  assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }), 'ERR_UNKNOWN_KEY');
  // an empty keyring trusts nothing
  assertDenied(await new Verifier({ trusted: [], clock }).authorize(token, call()), 'ERR_UNKNOWN_KEY');
});

test('rotation with a Keyring: new tokens use the new key, old tokens keep verifying until the old key is removed; then ERR_UNKNOWN_KEY', async () => {
  const k1 = key(41);
  const k2 = key(42);
  const keyring = new Keyring([k1.publicKey]);
  const v = new Verifier({ trusted: keyring, clock });
  const old = issueToken({ key: k1, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', maxDepth: 1, clock });
  const oldChild = delegate(old, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock });
  assert.equal(inspect(old).kid, kidToString(k1.kid));
  assertAllowed(await v.authorize(old, call()));
  assertAllowed(await v.authorize(old.toString(), call()));
  assertAllowed(await v.authorize(Uint8Array.from(old.bytes), call()));
  assertAllowed(await v.authorize(oldChild, call()));

  assert.equal(keyring.add(k2.publicKey), kidToString(k2.kid));
  const fresh = issueToken({ key: k2, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', clock });
  assert.equal(inspect(fresh).kid, kidToString(k2.kid));
  assertAllowed(await v.authorize(old, call()), 'old key still trusted after the new one is added');
  assertAllowed(await v.authorize(fresh, call()));

  // The old chains are cached (chain cache and verified-signature cache); removal must still win.
  assert.equal(keyring.remove(kidToString(k1.kid)), true);
  assert.equal(keyring.remove(kidToString(k1.kid)), false, 'already gone');
  assertDenied(await v.authorize(old, call()), 'ERR_UNKNOWN_KEY');
  assertDenied(await v.authorize(old.toString(), call()), 'ERR_UNKNOWN_KEY');
  assertDenied(await v.authorize(Uint8Array.from(old.bytes), call()), 'ERR_UNKNOWN_KEY');
  assertDenied(await v.authorize(oldChild, call()), 'ERR_UNKNOWN_KEY');
  const p = createInvocation(oldChild, { key: BOB, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
  assertDenied(await v.verifyInvocation(oldChild, p, { tool: 'get_user', args: {} }), 'ERR_UNKNOWN_KEY');
  assertAllowed(await v.authorize(fresh, call()));
});

test('Keyring.remove() by kid text, kid bytes, cfk1 public key text, raw key or private key; a cached chain is not served afterwards', async () => {
  const ways: ((k: typeof AUTH) => string | Uint8Array | typeof AUTH)[] = [
    (k) => kidToString(k.kid),
    (k) => k.kid,
    (k) => formatPublicKey(k.publicKey),
    (k) => k.publicKey,
    (k) => k,
  ];
  for (const [i, way] of ways.entries()) {
    const keyring = new Keyring([AUTH.publicKey]);
    const backend = countingBackend();
    const v = new Verifier({ trusted: keyring, clock, backend });
    const token = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 60, clock });
    assertAllowed(await v.authorize(token, call()));
    assertAllowed(await v.authorize(token, call()));
    assert.equal(keyring.remove(way(AUTH)), true, `remove way ${i}`);
    assert.equal(keyring.size, 0);
    assertDenied(await v.authorize(token, call()), 'ERR_UNKNOWN_KEY', `way ${i}`);
    // re-adding restores trust
    keyring.add(AUTH.publicKey);
    assertAllowed(await v.authorize(token, call()));
  }
});

test('a verifier built from a key list owns its keyring: removing from it revokes trust too', async () => {
  const v = new Verifier({ trusted: [AUTH.publicKey, formatPublicKey(MALLORY.publicKey)], clock });
  assert.equal(v.keyring.size, 2);
  const token = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 60, clock });
  assertAllowed(await v.authorize(token, call()));
  v.keyring.remove(MALLORY.publicKey);
  assertAllowed(await v.authorize(token, call()), 'removing another key does not affect this one');
  v.keyring.remove(kidToString(AUTH.kid));
  assertDenied(await v.authorize(token, call()), 'ERR_UNKNOWN_KEY');
});

test('Keyring: kids(), add() returns the kid, epoch bumps on change only', () => {
  const ring = new Keyring();
  const e0 = ring.epoch;
  assert.equal(ring.add(AUTH.publicKey), kidToString(AUTH.kid));
  assert.deepEqual(ring.kids(), [kidToString(AUTH.kid)]);
  assert.ok(ring.epoch > e0);
  const e1 = ring.epoch;
  assert.equal(ring.remove(kidToString(MALLORY.kid)), false);
  assert.equal(ring.epoch, e1, 'removing an absent key changes nothing');
  assert.deepEqual(ring.get(AUTH.kid), AUTH.publicKey);
  assert.equal(ring.get(MALLORY.kid), undefined);
  assertThrowsCode(() => ring.add(new Uint8Array(31)), 'ERR_INVALID_ARGUMENT');
  assertThrowsCode(() => ring.add('cfk1.AAAA'), 'ERR_MALFORMED');
});
