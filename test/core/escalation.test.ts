/**
 * Every escalation attempt is denied with its specific code: wider children
 * refused by delegate() and, hand-crafted anyway, by the verifier; wrong keys;
 * invocations for another tool, operation, resource, argument set or token.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { argsDigest, createInvocation, delegate, issueToken, type Token } from '../../src/index.ts';
import { blockDigest } from '../../src/token/token.ts';
import { encode } from '../../src/token/cbor.ts';
import {
  ALICE,
  AUTH,
  BOB,
  CAROL,
  MALLORY,
  T0,
  USERS_RW,
  assertAllowed,
  assertDenied,
  assertThrowsCode,
  callId,
  chain3,
  craftDelegation,
  craftInvocation,
  craftRoot,
  rootPayload,
  verifier,
} from './helpers.ts';

const clock = () => T0;
const read = (resource = 'database://users/alice') => ({ tool: 'get_user', operation: 'read', resource, args: {}, callId: callId() });
const write = (resource = 'database://users/alice') => ({ tool: 'set_user', operation: 'write', resource, args: {}, callId: callId() });

function rootToken(maxDepth = 2): Token {
  return issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', maxDepth, clock });
}

describe('delegate() refuses to widen, with a specific code', () => {
  const root = rootToken();
  const base = { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock };

  test('wider resource pattern: ERR_ATTENUATION', () => {
    for (const resource of ['database://**', 'database://users/**', 'database://*/*', 'database://admins/*', 'files://users/*']) {
      assertThrowsCode(() => delegate(root, { ...base, grants: [{ resource, permissions: ['read'] }] }), 'ERR_ATTENUATION', resource);
    }
  });
  test('extra permission: ERR_ATTENUATION', () => {
    assertThrowsCode(() => delegate(root, { ...base, permissions: ['read', 'delete'] }), 'ERR_ATTENUATION');
    assertThrowsCode(() => delegate(root, { ...base, grants: [{ resource: 'database://users/*', permissions: ['admin'] }] }), 'ERR_ATTENUATION');
  });
  test('later expiry than the parent: ERR_ATTENUATION', () => {
    assertThrowsCode(() => delegate(root, { ...base, ttl: '2h' }), 'ERR_ATTENUATION');
    assertThrowsCode(() => delegate(root, { ...base, expiresAt: T0 + 3601 }), 'ERR_ATTENUATION');
  });
  test('depth not below the parent: ERR_DEPTH; a depth-0 token cannot be delegated: ERR_DEPTH', () => {
    assertThrowsCode(() => delegate(root, { ...base, maxDepth: 2 }), 'ERR_DEPTH');
    assertThrowsCode(() => delegate(root, { ...base, maxDepth: 5 }), 'ERR_DEPTH');
    const leaf = rootToken(0);
    assertThrowsCode(() => delegate(leaf, base), 'ERR_DEPTH');
    const child = delegate(root, { ...base, maxDepth: 0 });
    assertThrowsCode(() => delegate(child, { key: BOB, to: CAROL.publicKey, subject: 'agent:carol', clock }), 'ERR_DEPTH');
  });
  test('only the holder key can delegate: ERR_INVALID_ARGUMENT', () => {
    assertThrowsCode(() => delegate(root, { ...base, key: MALLORY }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(() => delegate(root, { ...base, key: AUTH }), 'ERR_INVALID_ARGUMENT');
  });
  test('narrowing is accepted: narrower pattern, fewer permissions, earlier expiry, lower depth', async () => {
    const child = delegate(root, { ...base, grants: [{ resource: 'database://users/alice', permissions: ['read'] }], ttl: '5m', maxDepth: 0 });
    const v = verifier();
    assertAllowed(await v.authorize(child, read()));
    assertDenied(await v.authorize(child, read('database://users/bob')), 'ERR_SCOPE_RESOURCE');
    assertDenied(await v.authorize(child, write()), 'ERR_SCOPE_PERMISSION');
  });
});

describe('hand-crafted wider children are rejected at verify time', () => {
  const root = rootToken();
  const child = (fields: Partial<Parameters<typeof craftDelegation>[2] & object>, signer = ALICE, parent: Token = root) =>
    craftDelegation(parent, signer, { subject: 'agent:bob', holder: BOB.publicKey, maxDepth: 1, ...fields });

  test('wider resource: ERR_ATTENUATION on both paths, even for a call the parent would allow', async () => {
    const v = verifier();
    for (const resource of ['database://**', 'database://*/*', 'database://admins/*', 'database://users/**']) {
      const tok = child({ grants: [{ resource, permissions: ['read'] }] });
      assertDenied(await v.authorize(tok, read()), 'ERR_ATTENUATION', resource);
      assertDenied(await v.authorize(tok, read('database://admins/root')), 'ERR_ATTENUATION', resource);
      const proof = createInvocation(tok, { key: BOB, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
      assertDenied(await v.verifyInvocation(tok, proof, { tool: 'get_user', args: {} }), 'ERR_ATTENUATION', resource);
    }
  });
  test('wider permission (by index and by pattern): ERR_ATTENUATION', async () => {
    const v = verifier();
    for (const grants of [
      [{ resource: 0, permissions: ['delete', 'read'] }],
      [{ resource: 'database://users/*', permissions: ['admin'] }],
      [
        { resource: 0, permissions: ['read'] },
        { resource: 'database://users/alice', permissions: ['delete'] },
      ],
    ]) {
      assertDenied(await v.authorize(child({ grants }), read()), 'ERR_ATTENUATION', JSON.stringify(grants));
    }
  });
  test('grant index that the parent does not have: ERR_MALFORMED', async () => {
    assertDenied(await verifier().authorize(child({ grants: [{ resource: 1, permissions: ['read'] }] }), read()), 'ERR_MALFORMED');
  });
  test('later expiry than the parent: ERR_ATTENUATION (even while both are valid)', async () => {
    assertDenied(await verifier().authorize(child({ exp: T0 + 3601 }), read()), 'ERR_ATTENUATION');
    assertAllowed(await verifier().authorize(child({ exp: T0 + 3600 }), read()));
  });
  test('depth not below the parent: ERR_DEPTH', async () => {
    assertDenied(await verifier().authorize(child({ maxDepth: 2 }), read()), 'ERR_DEPTH');
    assertDenied(await verifier().authorize(child({ maxDepth: 200 }), read()), 'ERR_DEPTH');
    // a depth-0 root has no delegations at all
    const leaf = rootToken(0);
    assertDenied(await verifier().authorize(child({ maxDepth: 0 }, ALICE, leaf), read()), 'ERR_DEPTH');
    // depth 1 root: child at 0 fine, grandchild refused
    const r1 = rootToken(1);
    const c1 = child({ maxDepth: 0 }, ALICE, r1);
    assertAllowed(await verifier().authorize(c1, read()));
    const g1 = craftDelegation(c1, BOB, { subject: 'agent:carol', holder: CAROL.publicKey, maxDepth: 0 });
    assertDenied(await verifier().authorize(g1, read()), 'ERR_DEPTH');
  });
  test('a chain longer than the verifier limit: ERR_DEPTH', async () => {
    const deep = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', maxDepth: 8, clock });
    let t = deep;
    const keys = [ALICE, BOB, CAROL, ALICE];
    for (let i = 0; i < 3; i++) t = delegate(t, { key: keys[i]!, to: keys[i + 1]!.publicKey, subject: `d${i}`, clock });
    assertAllowed(await verifier().authorize(t, read()));
    assertDenied(await verifier({ maxDepth: 2 }).authorize(t, read()), 'ERR_DEPTH');
  });
  test('grandchild widening its parent (but within the root): ERR_ATTENUATION', async () => {
    const { child: c } = chain3();
    const readOnly = delegate(c, { key: BOB, to: CAROL.publicKey, subject: 'agent:carol', permissions: ['read'], clock, maxDepth: 1 });
    const widened = craftDelegation(readOnly, CAROL, {
      subject: 'agent:x',
      holder: MALLORY.publicKey,
      maxDepth: 0,
      grants: [{ resource: 0, permissions: ['read', 'write'] }],
    });
    assertDenied(await verifier().authorize(widened, write()), 'ERR_ATTENUATION');
  });
  test('block signed by a key other than its parent holder: ERR_SIGNATURE_INVALID', async () => {
    const v = verifier();
    assertDenied(await v.authorize(child({}, MALLORY), read()), 'ERR_SIGNATURE_INVALID');
    assertDenied(await v.authorize(child({}, AUTH), read()), 'ERR_SIGNATURE_INVALID');
    // grandchild signed by the root holder instead of the child holder
    const { child: c } = chain3();
    assertDenied(await v.authorize(craftDelegation(c, ALICE, { subject: 's', holder: CAROL.publicKey, maxDepth: 0 }), read()), 'ERR_SIGNATURE_INVALID');
  });
  test('wrong parent link, spliced and reordered blocks: ERR_SIGNATURE_INVALID', async () => {
    const v = verifier();
    assertDenied(await v.authorize(child({ parent: new Uint8Array(randomBytes(16)) }), read()), 'ERR_SIGNATURE_INVALID');
    // a block delegated from another root of the same holder does not attach to this root
    const other = rootToken();
    const otherChild = delegate(other, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock });
    const spliced = encode([root.kid, root.blocks[0]!.bytes, otherChild.blocks[1]!.bytes]);
    assertDenied(await v.authorize(spliced, read()), 'ERR_SIGNATURE_INVALID');
    // dropping the middle block of a 3-block chain
    const { root: r, grandchild } = chain3();
    assertDenied(await v.authorize(encode([r.kid, r.blocks[0]!.bytes, grandchild.blocks[2]!.bytes]), read()), 'ERR_SIGNATURE_INVALID');
    // swapping the two delegation blocks
    assertDenied(
      await v.authorize(encode([r.kid, r.blocks[0]!.bytes, grandchild.blocks[2]!.bytes, grandchild.blocks[1]!.bytes]), read()),
      'ERR_SIGNATURE_INVALID',
    );
    // a delegation block used as a root
    assertDenied(await v.authorize(encode([r.kid, grandchild.blocks[1]!.bytes]), read()), 'ERR_SIGNATURE_INVALID');
  });
  test('root signed by another key under the trusted kid: ERR_SIGNATURE_INVALID; untrusted kid: ERR_UNKNOWN_KEY', async () => {
    const forged = craftRoot(MALLORY, rootPayload({ holder: MALLORY.publicKey }));
    assertDenied(await verifier().authorize(forged, read()), 'ERR_UNKNOWN_KEY');
    const relabelled = encode([AUTH.kid, forged.blocks[0]!.bytes]);
    assertDenied(await verifier().authorize(relabelled, read()), 'ERR_SIGNATURE_INVALID');
  });
});

describe('invocation proofs bind holder, token, tool, operation, resource and arguments', () => {
  const { root, grandchild } = chain3();
  const call = { tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { id: 7, fields: ['name', 'email'] } };
  const proof = (over: Partial<typeof call> = {}) => createInvocation(grandchild, { key: CAROL, ...call, ...over, clock });
  const payload = (over: Record<string, unknown> = {}) => ({
    tip: grandchild.tip(),
    tool: call.tool,
    operation: call.operation,
    resource: call.resource,
    args: argsDigest(call.args),
    callId: callId(),
    nonce: new Uint8Array(randomBytes(16)),
    iat: T0,
    exp: T0 + 30,
    ...over,
  });

  test('createInvocation() refuses a key that is not the tip holder: ERR_INVALID_ARGUMENT', () => {
    for (const k of [ALICE, BOB, MALLORY, AUTH]) {
      assertThrowsCode(() => createInvocation(grandchild, { key: k, ...call, clock }), 'ERR_INVALID_ARGUMENT');
    }
    assertThrowsCode(() => createInvocation(grandchild, { key: CAROL, ...call, ttl: 301, clock }), 'ERR_INVALID_ARGUMENT');
  });
  test('proof signed by a key other than the tip holder: ERR_SIGNATURE_INVALID', async () => {
    const v = verifier();
    for (const k of [MALLORY, BOB, ALICE, AUTH]) {
      assertDenied(await v.verifyInvocation(grandchild, craftInvocation(k, payload()), { tool: call.tool, args: call.args }), 'ERR_SIGNATURE_INVALID');
    }
    assertAllowed(await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload()), { tool: call.tool, args: call.args }));
  });
  test('another tool: ERR_INVOCATION_MISMATCH', async () => {
    assertDenied(await verifier().verifyInvocation(grandchild, proof(), { tool: 'delete_user', args: call.args }), 'ERR_INVOCATION_MISMATCH');
  });
  test('another operation: ERR_INVOCATION_MISMATCH', async () => {
    assertDenied(await verifier().verifyInvocation(grandchild, proof(), { tool: call.tool, args: call.args, operation: 'write' }), 'ERR_INVOCATION_MISMATCH');
  });
  test('another resource: ERR_INVOCATION_MISMATCH; an equivalent spelling is the same resource', async () => {
    const v = verifier();
    assertDenied(
      await v.verifyInvocation(grandchild, proof(), { tool: call.tool, args: call.args, resource: 'database://users/bob' }),
      'ERR_INVOCATION_MISMATCH',
    );
    assertDenied(
      await v.verifyInvocation(grandchild, proof(), { tool: call.tool, args: call.args, resource: 'database://users/alice/x' }),
      'ERR_INVOCATION_MISMATCH',
    );
    assertAllowed(await v.verifyInvocation(grandchild, proof(), { tool: call.tool, args: call.args, resource: 'DATABASE://users/%61lice' }));
  });
  test('arguments changed after signing: ERR_INVOCATION_MISMATCH; reordered members are the same arguments', async () => {
    const v = verifier();
    for (const args of [
      { id: 8, fields: ['name', 'email'] },
      { id: 7, fields: ['email', 'name'] },
      { id: 7, fields: ['name', 'email'], extra: true },
      { id: 7 },
      { id: '7', fields: ['name', 'email'] },
      {},
    ]) {
      assertDenied(await v.verifyInvocation(grandchild, proof(), { tool: call.tool, args }), 'ERR_INVOCATION_MISMATCH', JSON.stringify(args));
    }
    assertAllowed(await v.verifyInvocation(grandchild, proof(), { tool: call.tool, args: { fields: ['name', 'email'], id: 7 } }));
  });
  test('proof made for another token of the same holder: ERR_INVOCATION_MISMATCH', async () => {
    const v = verifier();
    // two root tokens held by ALICE
    const other = issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', clock });
    const p = createInvocation(other, { key: ALICE, ...call, clock });
    assertDenied(await v.verifyInvocation(root, p, { tool: call.tool, args: call.args }), 'ERR_INVOCATION_MISMATCH');
    // a narrower child delegated to the same key: its proof does not work on the parent, nor the parent's on the child
    const self = delegate(root, { key: ALICE, to: ALICE.publicKey, subject: 'agent:alice-ro', permissions: ['read'], clock });
    const pc = createInvocation(self, { key: ALICE, ...call, clock });
    assertDenied(await v.verifyInvocation(root, pc, { tool: call.tool, args: call.args }), 'ERR_INVOCATION_MISMATCH');
    const pr = createInvocation(root, { key: ALICE, ...call, operation: 'write', clock });
    assertDenied(await v.verifyInvocation(self, pr, { tool: call.tool, args: call.args }), 'ERR_INVOCATION_MISMATCH');
    assertAllowed(await v.verifyInvocation(self, pc, { tool: call.tool, args: call.args }));
  });
  test('a correctly signed proof outside the chain scope: ERR_SCOPE_RESOURCE / ERR_SCOPE_PERMISSION', async () => {
    const v = verifier();
    assertDenied(
      await v.verifyInvocation(grandchild, proof({ resource: 'database://admins/root' }), { tool: call.tool, args: call.args }),
      'ERR_SCOPE_RESOURCE',
    );
    assertDenied(await v.verifyInvocation(grandchild, proof({ operation: 'write' }), { tool: call.tool, args: call.args }), 'ERR_SCOPE_PERMISSION');
  });
  test('hand-crafted proof with a resource not in normal form: ERR_MALFORMED; with traversal: ERR_SCOPE_RESOURCE', async () => {
    const v = verifier();
    assertDenied(
      await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ resource: 'DATABASE://users/alice' })), { tool: call.tool, args: call.args }),
      'ERR_MALFORMED',
    );
    assertDenied(
      await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ resource: 'database://users/%61lice' })), { tool: call.tool, args: call.args }),
      'ERR_MALFORMED',
    );
    for (const resource of ['database://users/..', 'database://users/../admins', 'database://users/%2e%2e', 'database://users//x']) {
      assertDenied(
        await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ resource })), { tool: call.tool, args: call.args }),
        'ERR_SCOPE_RESOURCE',
        resource,
      );
    }
  });
  test('hand-crafted proof living longer than 300 s: ERR_MALFORMED', async () => {
    const v = verifier();
    assertDenied(
      await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ exp: T0 + 301 })), { tool: call.tool, args: call.args }),
      'ERR_MALFORMED',
    );
    assertDenied(await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ exp: T0 })), { tool: call.tool, args: call.args }), 'ERR_MALFORMED');
    assertAllowed(await v.verifyInvocation(grandchild, craftInvocation(CAROL, payload({ exp: T0 + 300 })), { tool: call.tool, args: call.args }));
  });
  test('a tampered token tip in a proof signed by the holder: ERR_INVOCATION_MISMATCH', async () => {
    assertDenied(
      await verifier().verifyInvocation(grandchild, craftInvocation(CAROL, payload({ tip: blockDigest(root.blocks[0]!.payload) })), {
        tool: call.tool,
        args: call.args,
      }),
      'ERR_INVOCATION_MISMATCH',
    );
  });
  test('sanity: the untouched proof verifies', async () => {
    assertAllowed(await verifier().verifyInvocation(grandchild, proof(), { tool: call.tool, args: call.args, operation: 'read', resource: call.resource }));
    assert.ok(true);
  });
});
