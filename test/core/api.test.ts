/** Round trips through the public API and the shape of inspect() and decisions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, formatPublicKey, inspect, Invocation, issueToken, Token, Verifier, argsDigest } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { canonicalJson } from '../../src/token/args.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { ALICE, AUTH, BOB, CAROL, T0, assertAllowed, assertDenied, assertThrowsCode, callId, chain3, makeClock, verifier } from './helpers.ts';

test('issue -> delegate -> delegate -> authorize() allows an in-scope call on every level', async () => {
  const { root, child, grandchild } = chain3();
  const v = verifier();
  for (const [tok, subject] of [
    [root, 'agent:alice'],
    [child, 'agent:bob'],
    [grandchild, 'agent:carol'],
  ] as const) {
    const d = await v.authorize(tok, { tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { id: 1 }, callId: callId() });
    assertAllowed(d);
    assert.equal(d.mode, 'local');
    assert.equal(d.subject, subject);
    assert.equal(d.tool, 'get_user');
    assert.equal(d.operation, 'read');
    assert.equal(d.resource, 'database://users/alice');
    assert.equal(d.argsDigest, toHex(argsDigest({ id: 1 })));
    assert.equal(d.expiresAt, T0 + 3600);
    assert.deepEqual(
      d.chainIds,
      inspect(tok).blocks.map((b) => b.id),
    );
    assert.equal(d.grant.resource, 'database://users/*');
  }
  // the grandchild only holds read
  const w = await v.authorize(grandchild, { tool: 'set_user', operation: 'write', resource: 'database://users/alice', args: {}, callId: callId() });
  assertDenied(w, 'ERR_SCOPE_PERMISSION');
  const w2 = await v.authorize(child, { tool: 'set_user', operation: 'write', resource: 'database://users/alice', args: {}, callId: callId() });
  assertAllowed(w2);
  if (w2.allowed) assert.deepEqual([...w2.grant.permissions], ['read', 'write']);
});

test('createInvocation() -> verifyInvocation() on a 3-block chain, binary and text forms', async () => {
  const { grandchild } = chain3();
  const v = verifier();
  const proof = createInvocation(grandchild, {
    key: CAROL,
    tool: 'get_user',
    operation: 'read',
    resource: 'database://users/bob',
    args: { id: 2, fields: ['name'] },
    callId: 'c-rt-1',
    clock: () => T0,
  });
  // text form round trip
  const text = proof.toString();
  assert.match(text, /^cfi1\.[A-Za-z0-9_-]+$/);
  assert.ok(Buffer.from(Invocation.parse(text).bytes).equals(proof.bytes));
  assert.equal(JSON.stringify({ p: proof }), JSON.stringify({ p: text }));
  const d = await v.verifyInvocation(grandchild.toString(), text, { tool: 'get_user', args: { fields: ['name'], id: 2 } });
  assertAllowed(d);
  assert.equal(d.mode, 'signed');
  assert.equal(d.callId, 'c-rt-1');
  assert.equal(d.operation, 'read');
  assert.equal(d.resource, 'database://users/bob');
  assert.equal(d.subject, 'agent:carol');
  assert.equal(d.chainIds?.length, 3);
  // binary form, new call id
  const proof2 = createInvocation(grandchild, {
    key: CAROL,
    tool: 'get_user',
    operation: 'read',
    resource: 'database://users/bob',
    args: {},
    clock: () => T0,
  });
  const d2 = await v.verifyInvocation(grandchild.bytes, proof2.bytes, { tool: 'get_user', args: {}, operation: 'read', resource: 'database://users/bob' });
  assertAllowed(d2);
  assert.match(d2.callId ?? '', /^call_[A-Za-z0-9_-]{16}$/);
});

test('Token text and binary forms round trip; toJSON is the text form', () => {
  const { child } = chain3();
  const text = child.toString();
  assert.match(text, /^cft1\.[A-Za-z0-9_-]+$/);
  const again = Token.parse(text);
  assert.deepEqual(again.bytes, child.bytes);
  assert.deepEqual(Token.parse(child.bytes).bytes, child.bytes);
  assert.equal(Token.parse(child), child);
  assert.equal(JSON.parse(JSON.stringify({ t: child })).t, text);
  assert.equal(again.blocks.length, 2);
  assert.deepEqual(again.tip(), child.tip());
  // whitespace around the text form (files, headers) is tolerated
  assert.deepEqual(Token.parse(`  ${text}\n`).bytes, child.bytes);
});

test('parsing copies the input: mutating the caller buffer afterwards changes nothing', async () => {
  const { child } = chain3();
  const buf = Uint8Array.from(child.bytes);
  const tok = Token.parse(buf);
  buf.fill(0);
  const d = await verifier().authorize(tok, { tool: 't', operation: 'read', resource: 'database://users/x', args: {}, callId: callId() });
  assertAllowed(d);
});

test('inspect() shows ids, subjects, holders, grants, constraints, expiries and depth; no secrets', () => {
  const clock = makeClock();
  const root = issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    clock,
    ttl: '2h',
    maxDepth: 2,
    notBefore: T0 - 10,
    grants: [
      { resource: 'database://users/*', permissions: ['write', 'read'] },
      { resource: 'files://docs/**', permissions: ['read'], constraints: { path: { type: 'pathUnder', path: '/docs' } } },
    ],
  });
  const child = delegate(root, {
    key: ALICE,
    to: BOB.publicKey,
    subject: 'agent:bob',
    clock,
    ttl: '10m',
    grants: [{ resource: 'database://users/*', permissions: ['read'], constraints: { limit: { type: 'range', min: 1, max: 50 } } }],
  });
  const grandchild = delegate(child, { key: BOB, to: CAROL.publicKey, subject: 'agent:carol', clock });
  const ins = inspect(grandchild.toString());
  assert.equal(ins.version, 1);
  assert.equal(ins.verified, false);
  assert.equal(ins.kid, kidToString(AUTH.kid));
  assert.equal(ins.bytes, grandchild.bytes.length);
  assert.equal(ins.expiresAt, new Date((T0 + 600) * 1000).toISOString());
  assert.equal(ins.blocks.length, 3);
  const [r, c, g] = ins.blocks as [(typeof ins.blocks)[0], (typeof ins.blocks)[0], (typeof ins.blocks)[0]];
  assert.equal(r.kind, 'root');
  assert.match(r.id, /^[0-9a-f]{32}$/);
  assert.equal(r.subject, 'agent:alice');
  assert.equal(r.holder, formatPublicKey(ALICE.publicKey));
  assert.equal(r.issuedAt, new Date(T0 * 1000).toISOString());
  assert.equal(r.notBefore, new Date((T0 - 10) * 1000).toISOString());
  assert.equal(r.expiresAt, new Date((T0 + 7200) * 1000).toISOString());
  assert.equal(r.maxDepth, 2);
  assert.equal(r.inheritsGrants, false);
  assert.deepEqual(r.grants, [
    { resource: 'database://users/*', permissions: ['read', 'write'] },
    { resource: 'files://docs/**', permissions: ['read'], constraints: { path: { type: 'pathUnder', path: '/docs' } } },
  ]);
  assert.equal(c.kind, 'delegation');
  assert.match(c.id, /^[0-9a-f]{32}$/);
  assert.notEqual(c.id, r.id);
  assert.equal(c.subject, 'agent:bob');
  assert.equal(c.holder, formatPublicKey(BOB.publicKey));
  assert.equal(c.issuedAt, undefined);
  assert.equal(c.expiresAt, new Date((T0 + 600) * 1000).toISOString());
  assert.equal(c.maxDepth, 1);
  assert.deepEqual(c.grants, [{ resource: 'database://users/*', permissions: ['read'], constraints: { limit: { type: 'range', min: 1, max: 50 } } }]);
  assert.equal(g.subject, 'agent:carol');
  assert.equal(g.inheritsGrants, true);
  assert.deepEqual(g.grants, c.grants);
  assert.equal(g.maxDepth, 0);
  assert.equal(g.expiresAt, c.expiresAt, 'a block without exp shows its parent expiry');
  assert.equal(r.bytes + c.bytes + g.bytes < ins.bytes, true);
  // the root id is the token id; the delegation ids are what verification reports
  const json = JSON.stringify(ins);
  for (const k of [AUTH, ALICE, BOB, CAROL]) {
    assert.equal(json.includes(Buffer.from(k.seed).toString('base64url')), false, 'no private key material');
  }
});

test('inspect() of the same chain equals across text, bytes and Token inputs, and does not verify', () => {
  const { child } = chain3();
  assert.deepEqual(inspect(child), inspect(child.bytes));
  assert.deepEqual(inspect(child), inspect(child.toString()));
  // a token from an untrusted authority still inspects (inspect is not verify)
  const other = issueToken({ key: BOB, subject: 'x', holder: CAROL.publicKey, grants: [{ resource: 'a://b', permissions: ['r'] }], ttl: 60 });
  assert.equal(inspect(other).kid, kidToString(BOB.kid));
});

test('a Verifier accepts trusted keys as Keyring, cfk1 text or raw bytes', async () => {
  const { child } = chain3();
  for (const trusted of [[formatPublicKey(AUTH.publicKey)], [AUTH.publicKey], [AUTH]]) {
    const v = new Verifier({ trusted, clock: () => T0 });
    assertAllowed(await v.authorize(child, { tool: 't', operation: 'read', resource: 'database://users/a', args: {}, callId: 'x' }));
  }
});

test('argument digest is JCS: key order and undefined members do not matter, values do', () => {
  assert.equal(canonicalJson({ b: [1, 'x', null, true], a: { d: 1.5, c: -0 } }), '{"a":{"c":0,"d":1.5},"b":[1,"x",null,true]}');
  assert.deepEqual(argsDigest({ a: 1, b: 2 }), argsDigest({ b: 2, a: 1 }));
  assert.deepEqual(argsDigest({ a: 1, u: undefined }), argsDigest({ a: 1 }));
  assert.notDeepEqual(argsDigest({ a: 1 }), argsDigest({ a: '1' }));
  assert.equal(canonicalJson({ n: 1e21, m: 1e-7 }), '{"m":1e-7,"n":1e+21}');
});

test('Verifier refuses unusable limits and sizes (a NaN must never disable a limit): ERR_INVALID_ARGUMENT', () => {
  for (const name of ['maxTokenBytes', 'maxDepth', 'chainCacheSize', 'signatureCacheSize', 'replayCapacity', 'clockSkew', 'invocationWindow']) {
    for (const bad of [Number.NaN, -1, Infinity, '12' as unknown as number]) {
      assertThrowsCode(() => new Verifier({ trusted: [AUTH.publicKey], [name]: bad }), 'ERR_INVALID_ARGUMENT', `${name}=${String(bad)}`);
    }
  }
  // larger than the hard limits: clamped to them, never raised
  const v = new Verifier({ trusted: [AUTH.publicKey], maxTokenBytes: 1e9, maxDepth: 100 });
  assert.equal(v.maxTokenBytes, 16 * 1024);
  assert.equal(v.maxDepth, 8);
});

test('decisions are frozen and carry the context a log needs, never the arguments', async () => {
  const { child } = chain3();
  const v = verifier();
  const ok = await v.authorize(child, {
    tool: 'get_user',
    operation: 'read',
    resource: 'database://users/alice',
    args: { secret: 'hunter2' },
    callId: 'ctx-1',
  });
  assertAllowed(ok);
  assert.ok(Object.isFrozen(ok));
  assert.equal(JSON.stringify(ok).includes('hunter2'), false);
  const no = await v.authorize(child, {
    tool: 'drop_user',
    operation: 'delete',
    resource: 'database://users/alice',
    args: { secret: 'hunter2' },
    callId: 'ctx-2',
  });
  assertDenied(no, 'ERR_SCOPE_PERMISSION');
  assert.ok(Object.isFrozen(no));
  assert.equal(no.subject, 'agent:bob');
  assert.deepEqual(no.chainIds, ok.chainIds);
  assert.equal(no.tool, 'drop_user');
  assert.equal(no.callId, 'ctx-2');
  assert.equal(JSON.stringify({ ...no, error: undefined }).includes('hunter2'), false);
  const bad = await v.authorize(new Uint8Array([1, 2, 3]), { tool: 't', operation: 'read', resource: 'database://users/a', args: {}, callId: 'ctx-3' });
  assertDenied(bad, 'ERR_MALFORMED');
  assert.equal(bad.subject, undefined, 'no subject for a token that did not verify');
  assert.equal(bad.chainIds, undefined);
});
