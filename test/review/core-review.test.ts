/**
 * Findings of the security review of the token core and the LangChain guard
 * (one test per finding; each failed before its fix).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect as utilInspect } from 'node:util';
import { argsDigest, delegate, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { nobleBackend } from '../../src/crypto/noble.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import { definePolicy, parseConfig } from '../../src/langchain/index.ts';
import { blockDigest } from '../../src/token/token.ts';
import { ALICE, AUTH, T0, assertAllowed, assertDenied, assertThrowsCode, craftDelegation, craftInvocation } from '../core/helpers.ts';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
/** Encodings of the small-order points of edwards25519 (libsodium's list; the sign bit is ignored). */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

test('finding 1: the node backend rejects small-order public keys (spec §3.0), like the noble backend', () => {
  const msg = new TextEncoder().encode('any message at all');
  for (const b of [nodeBackend(), nobleBackend()]) {
    for (const h of SMALL_ORDER) {
      for (const signBit of [0, 0x80]) {
        const A = hex(h);
        A[31]! ^= signBit;
        // Candidate forgeries that need no private key: S = 0 and R a small-order point.
        for (const r of [SMALL_ORDER[1]!, SMALL_ORDER[0]!, Buffer.from(A).toString('hex')]) {
          const sig = new Uint8Array(64);
          sig.set(hex(r), 0);
          assert.equal(b.verify(A, msg, sig), false, `${b.name} accepted a forgery for small-order key ${h} (sign bit ${signBit})`);
        }
      }
    }
  }
  // Non-canonical encodings of A (y >= p) are refused too.
  const nonCanonical = hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
  assert.equal(nodeBackend().verify(nonCanonical, msg, new Uint8Array(64)), false);
});

test('finding 1, end to end: a chain delegated to a small-order key is not a bearer token anyone can sign for', async () => {
  const clock = () => T0;
  const root = issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    grants: [{ resource: 'database://users/*', permissions: ['read'] }],
    ttl: '1h',
    maxDepth: 1,
    clock,
  });
  const identity = hex(SMALL_ORDER[1]!);
  // delegate() now refuses such a key (below); a hand-made block signed by the real holder names it anyway.
  const child = craftDelegation(root, ALICE, { subject: 'agent:anyone', holder: identity, maxDepth: 0 });
  // "Sign" an invocation without any private key: R = identity, S = 0.
  const args = { id: 'alice' };
  const payload = {
    tip: blockDigest(child.blocks[child.blocks.length - 1]!.payload),
    tool: 'get_user',
    operation: 'read',
    resource: 'database://users/alice',
    args: argsDigest(args),
    callId: 'forged-1',
    nonce: new Uint8Array(16),
    iat: T0,
    exp: T0 + 30,
  };
  const { encodeInvocationPayload } = await import('../../src/token/invocation-payload.ts');
  const { Invocation } = await import('../../src/index.ts');
  const forged = Invocation.fromBlock(Buffer.concat([encodeInvocationPayload(payload), identity, new Uint8Array(32)]));
  const v = new Verifier({ trusted: [AUTH.publicKey], clock });
  // The chain itself is refused when decoded (spec §3.3 field rules), before any proof is looked at;
  // and the forged signature fails the acceptance rule anyway (small-order A and R, spec §3.0).
  assertDenied(await v.verifyInvocation(child, forged, { tool: 'get_user', args }), 'ERR_MALFORMED');
  // The same proof signed by a real holder still verifies (sanity check of the crafted payload).
  const bob = generateKey();
  const child2 = delegate(root, { key: ALICE, to: bob.publicKey, subject: 'agent:bob', clock });
  const real = craftInvocation(bob, { ...payload, tip: blockDigest(child2.blocks[1]!.payload), callId: 'real-1' });
  assertAllowed(await v.verifyInvocation(child2, real, { tool: 'get_user', args }));
  // The API refuses to trust, issue to or delegate to a small-order or non-canonical key.
  for (const h of [SMALL_ORDER[1]!, SMALL_ORDER[2]!, 'efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']) {
    const weak = hex(h);
    assertThrowsCode(() => delegate(root, { key: ALICE, to: weak, subject: 'agent:anyone', clock }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(
      () => issueToken({ key: AUTH, subject: 's', holder: weak, grants: [{ resource: 'a://b', permissions: ['r'] }], ttl: '1h' }),
      'ERR_INVALID_ARGUMENT',
    );
    assertThrowsCode(() => new Verifier({ trusted: [weak] }), 'ERR_INVALID_ARGUMENT');
  }
});

const KEY_TEXT = 'cfk1.' + Buffer.from(AUTH.publicKey).toString('base64url');

test('finding 2: a policy constraint on an argument named "__proto__" is refused, never silently dropped', () => {
  const yaml = `
trust:
  authorities: [${KEY_TEXT}]
audit: { sink: none }
tools:
  t:
    resource: x://{a}
    operation: read
    constraints:
      __proto__: { type: exact, value: "only-this" }
`;
  assert.throws(
    () => parseConfig(yaml, { file: 'c.yaml' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_CONFIG');
      assert.match(e.message, /^c\.yaml:10 tools\.t\.constraints\.__proto__: /);
      return true;
    },
  );
  const spec = { resource: 'x://{a}', operation: 'read', constraints: JSON.parse('{"__proto__": {"type": "exact", "value": "only-this"}}') };
  assert.throws(
    () => definePolicy('t', spec),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /__proto__/.test(e.message),
  );
});

test('finding 3: issuing with an expiry beyond 2^32-1 s is refused at issue time, not an unverifiable token', () => {
  assertThrowsCode(
    () => issueToken({ key: AUTH, subject: 's', holder: ALICE.publicKey, grants: [{ resource: 'a://b', permissions: ['r'] }], ttl: '999999999d' }),
    'ERR_INVALID_ARGUMENT',
  );
  const root = issueToken({
    key: AUTH,
    subject: 's',
    holder: ALICE.publicKey,
    grants: [{ resource: 'a://b', permissions: ['r'] }],
    ttl: '1h',
    maxDepth: 1,
    clock: () => T0,
  });
  // a delegation whose not-before is at or after its (inherited) expiry could never be used
  assertThrowsCode(
    () => delegate(root, { key: ALICE, to: generateKey().publicKey, subject: 'x', notBefore: T0 + 3600, clock: () => T0 }),
    'ERR_INVALID_ARGUMENT',
  );
});

test('finding 4: a private key never serialises its seed (JSON, util.inspect)', () => {
  const k = generateKey();
  const seedHex = Buffer.from(k.seed).toString('hex');
  const seedB64 = Buffer.from(k.seed).toString('base64url');
  const run = { configurable: { capframe: { token: 'cft1.x', holderKey: k } } };
  const json = JSON.stringify(run);
  assert.ok(!json.includes(String(k.seed[0]) + ',"1":'), 'seed bytes in JSON');
  assert.ok(!json.includes(seedHex) && !json.includes(seedB64));
  assert.match(json, /"holderKey":\{"kind":"private","kid":"[A-Za-z0-9_-]+","publicKey":"cfk1\./);
  const shown = utilInspect(run, { depth: 10 });
  assert.ok(!shown.includes('seed'), shown);
  // the key is still usable and its seed still readable by code that asks for it
  assert.equal(k.seed.length, 32);
});

test('finding 5: a tool name with a C1 control character is a config error (it could never be called)', () => {
  assert.throws(
    () => definePolicy('bad\u0085name', { resource: 'x://{a}', operation: 'read' }),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG',
  );
});

test('finding 6 (fixed meanwhile in 9af2b83, kept as a regression test): the in-memory replay store does not refuse calls while it holds expired entries behind a live one', async () => {
  const { MemoryReplayStore } = await import('../../src/verify/replay.ts');
  const store = new MemoryReplayStore(3);
  assert.equal(store.checkAndRecord('long', T0 + 330, T0), true); // a 300 s proof first
  assert.equal(store.checkAndRecord('a', T0 + 60, T0), true);
  assert.equal(store.checkAndRecord('b', T0 + 60, T0), true);
  // 'a' and 'b' have expired; only 'long' is live, so there is room.
  assert.equal(store.checkAndRecord('c', T0 + 120, T0 + 61), true);
  assert.equal(store.checkAndRecord('c', T0 + 120, T0 + 62), false, 'a live entry is still a replay');
  assert.equal(store.checkAndRecord('long', T0 + 400, T0 + 62), false);
  assert.equal(store.size, 2);
  // Full of live entries: still refuses rather than forget one.
  assert.equal(store.checkAndRecord('d', T0 + 120, T0 + 62), true);
  assert.throws(
    () => store.checkAndRecord('e', T0 + 120, T0 + 62),
    (e: Error & { code?: string }) => e.code === 'ERR_UNAVAILABLE',
  );
});
