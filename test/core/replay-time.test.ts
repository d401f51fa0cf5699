/** Replay protection on both paths, replay-store capacity, and every time rule with an injected clock. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, issueToken, Verifier } from '../../src/index.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';
import { DEFAULTS } from '../../src/token/limits.ts';
import { CapframeError } from '../../src/errors.ts';
import { ALICE, AUTH, BOB, T0, USERS_RW, assertAllowed, assertDenied, assertThrowsCode, callId, craftDelegation, makeClock } from './helpers.ts';

const call = (id = callId()) => ({ tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { id: 1 }, callId: id });
const issue = (o: { ttl?: number; notBefore?: number; maxDepth?: number } = {}) =>
  issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    grants: [USERS_RW],
    ttl: o.ttl ?? 3600,
    maxDepth: o.maxDepth ?? 1,
    clock: () => T0,
    ...(o.notBefore !== undefined ? { notBefore: o.notBefore } : {}),
  });

describe('replay', () => {
  test('authorize(): the same call id twice is ERR_REPLAY; a new call id is fine', async () => {
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0 });
    assertAllowed(await v.authorize(token, call('c-1')));
    assertDenied(await v.authorize(token, call('c-1')), 'ERR_REPLAY');
    assertDenied(await v.authorize(token.toString(), call('c-1')), 'ERR_REPLAY', 'text form of the same token');
    assertAllowed(await v.authorize(token, call('c-2')));
  });
  test('verifyInvocation(): the same proof twice is ERR_REPLAY, in any form; another proof with the same call id too', async () => {
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0 });
    const mk = () =>
      createInvocation(token, {
        key: ALICE,
        tool: 'get_user',
        operation: 'read',
        resource: 'database://users/alice',
        args: { id: 1 },
        callId: 'sig-1',
        clock: () => T0,
      });
    const p = mk();
    const expected = { tool: 'get_user', args: { id: 1 } };
    assertAllowed(await v.verifyInvocation(token, p, expected));
    assertDenied(await v.verifyInvocation(token, p, expected), 'ERR_REPLAY');
    assertDenied(await v.verifyInvocation(token, p.toString(), expected), 'ERR_REPLAY');
    assertDenied(await v.verifyInvocation(token.bytes, p.bytes, expected), 'ERR_REPLAY');
    const q = mk(); // fresh nonce, same call id
    assert.notDeepEqual(q.bytes, p.bytes);
    assertDenied(await v.verifyInvocation(token, q, expected), 'ERR_REPLAY');
  });
  test('a replay after the proof expired is ERR_EXPIRED, never accepted', async () => {
    const clock = makeClock();
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock });
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
    assertAllowed(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }));
    clock.advance(30 + DEFAULTS.clockSkew);
    assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }), 'ERR_EXPIRED');
  });
  test('a replay store shared by two verifiers catches a replay across them', async () => {
    const token = issue();
    const replay = new MemoryReplayStore(100);
    const v1 = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay });
    const v2 = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay });
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock: () => T0 });
    assertAllowed(await v1.verifyInvocation(token, p, { tool: 'get_user', args: {} }));
    assertDenied(await v2.verifyInvocation(token, p, { tool: 'get_user', args: {} }), 'ERR_REPLAY');
    assert.equal(replay.size, 1);
  });
  test('an asynchronous replay store (the shared-store interface) catches replays on both paths', async () => {
    const seen = new Map<string, number>();
    const store = {
      async checkAndRecord(key: string, expiresAt: number, now: number): Promise<boolean> {
        await new Promise((r) => setImmediate(r));
        const prev = seen.get(key);
        if (prev !== undefined && prev > now) return false;
        seen.set(key, expiresAt);
        return true;
      },
    };
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay: store });
    assertAllowed(await v.authorize(token, call('async-1')));
    assertDenied(await v.authorize(token, call('async-1')), 'ERR_REPLAY');
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock: () => T0 });
    assertAllowed(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }));
    assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }), 'ERR_REPLAY');
    assert.equal(seen.size, 2);
  });
  test('a denied call does not consume its call id', async () => {
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0 });
    assertDenied(await v.authorize(token, { ...call('c-x'), operation: 'delete' }), 'ERR_SCOPE_PERMISSION');
    assertAllowed(await v.authorize(token, call('c-x')));
  });
  test('replay store full of live entries: fails closed (ERR_UNAVAILABLE), never forgets a live entry', async () => {
    const clock = makeClock();
    const token = issue();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock, replayCapacity: 3 });
    for (const id of ['a', 'b', 'c']) assertAllowed(await v.authorize(token, call(id)));
    assertDenied(await v.authorize(token, call('d')), 'ERR_UNAVAILABLE');
    // the live entries are all still remembered
    for (const id of ['a', 'b', 'c']) assertDenied(await v.authorize(token, call(id)), 'ERR_REPLAY');
    assertDenied(await v.authorize(token, call('d')), 'ERR_UNAVAILABLE');
    // the signed path fails closed too
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
    assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: {} }), 'ERR_UNAVAILABLE');
    // once the entries expire there is room again
    clock.advance(DEFAULTS.invocationWindow + DEFAULTS.clockSkew);
    assertAllowed(await v.authorize(token, call('d')));
    assertAllowed(
      await v.verifyInvocation(
        token,
        createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock }),
        { tool: 'get_user', args: {} },
      ),
    );
  });
  test('MemoryReplayStore directly: checkAndRecord semantics and the full-store error', () => {
    const s = new MemoryReplayStore(2);
    assert.equal(s.checkAndRecord('k1', 100, 50), true);
    assert.equal(s.checkAndRecord('k1', 100, 60), false);
    assert.equal(s.checkAndRecord('k1', 100, 99), false);
    assert.equal(s.checkAndRecord('k2', 100, 60), true);
    const e = assertThrowsCode(() => s.checkAndRecord('k3', 100, 60), 'ERR_UNAVAILABLE');
    assert.ok(e instanceof CapframeError);
    assert.equal(s.checkAndRecord('k1', 200, 100), true, 'expired entries may be reused');
    assert.equal(s.checkAndRecord('k3', 200, 100), true, 'k2 expired at 100 and was swept');
    assert.equal(s.size, 2);
  });
});

describe('time: token validity with clock skew (default 30 s)', () => {
  const verifierAt = (clock: () => number, skew?: number) =>
    new Verifier({ trusted: [AUTH.publicKey], clock, ...(skew !== undefined ? { clockSkew: skew } : {}) });

  test('expired token: allowed until exp + 29 s, ERR_EXPIRED from exp + 30 s; the chain cache does not hide expiry', async () => {
    const clock = makeClock();
    const token = issue({ ttl: 600 });
    const v = verifierAt(clock);
    assertAllowed(await v.authorize(token, call()));
    clock.now = T0 + 600 + 29;
    assertAllowed(await v.authorize(token, call()));
    clock.now = T0 + 600 + 30;
    assertDenied(await v.authorize(token, call()), 'ERR_EXPIRED');
    clock.now = T0 + 10 * 86400;
    assertDenied(await v.authorize(token, call()), 'ERR_EXPIRED');
  });
  test('configurable skew: 0 and 120 seconds', async () => {
    const clock = makeClock(T0 + 599);
    const token = issue({ ttl: 600 });
    const v0 = verifierAt(clock, 0);
    assertAllowed(await v0.authorize(token, call()));
    clock.now = T0 + 600;
    assertDenied(await v0.authorize(token, call()), 'ERR_EXPIRED');
    const v120 = verifierAt(clock, 120);
    clock.now = T0 + 719;
    assertAllowed(await v120.authorize(token, call()));
    clock.now = T0 + 720;
    assertDenied(await v120.authorize(token, call()), 'ERR_EXPIRED');
  });
  test('not-yet-valid token: ERR_NOT_YET_VALID before nbf - 30 s, allowed from nbf - 30 s', async () => {
    const clock = makeClock();
    const token = issue({ notBefore: T0 + 100 });
    const v = verifierAt(clock);
    assertDenied(await v.authorize(token, call()), 'ERR_NOT_YET_VALID');
    clock.now = T0 + 69;
    assertDenied(await v.authorize(token, call()), 'ERR_NOT_YET_VALID');
    clock.now = T0 + 70;
    assertAllowed(await v.authorize(token, call()));
    const v0 = verifierAt(clock, 0);
    assertDenied(await v0.authorize(token, call()), 'ERR_NOT_YET_VALID');
    clock.now = T0 + 100;
    assertAllowed(await v0.authorize(token, call()));
  });
  test('a child expiring earlier ends the chain earlier; a child nbf delays it', async () => {
    const clock = makeClock();
    const root = issue();
    const child = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', ttl: 60, notBefore: T0 + 10, clock });
    const v = verifierAt(clock, 0);
    assertDenied(await v.authorize(child, call()), 'ERR_NOT_YET_VALID');
    assertAllowed(await v.authorize(root, call()));
    clock.now = T0 + 10;
    const d = await v.authorize(child, call());
    assertAllowed(d);
    if (d.allowed) assert.equal(d.expiresAt, T0 + 60);
    clock.now = T0 + 60;
    assertDenied(await v.authorize(child, call()), 'ERR_EXPIRED');
    assertAllowed(await v.authorize(root, call()));
  });
  test('hand-crafted child nbf: the latest nbf of the chain applies', async () => {
    const clock = makeClock();
    const root = issue({ notBefore: T0 - 100 });
    const child = craftDelegation(root, ALICE, { subject: 'b', holder: BOB.publicKey, maxDepth: 0, nbf: T0 + 1000 });
    assertDenied(await verifierAt(clock).authorize(child, call()), 'ERR_NOT_YET_VALID');
  });
  test('the signed path applies the same token expiry', async () => {
    const clock = makeClock();
    const token = issue({ ttl: 100 });
    const v = verifierAt(clock);
    clock.now = T0 + 129;
    const p = createInvocation(token, { key: ALICE, tool: 't', operation: 'read', resource: 'database://users/a', args: {}, clock });
    assertAllowed(await v.verifyInvocation(token, p, { tool: 't', args: {} }));
    clock.now = T0 + 130;
    const q = createInvocation(token, { key: ALICE, tool: 't', operation: 'read', resource: 'database://users/a', args: {}, clock });
    assertDenied(await v.verifyInvocation(token, q, { tool: 't', args: {} }), 'ERR_EXPIRED');
  });
});

describe('time: invocation validity', () => {
  const token = issue();
  const proofAt = (t: number, ttl?: number) =>
    createInvocation(token, {
      key: ALICE,
      tool: 't',
      operation: 'read',
      resource: 'database://users/a',
      args: {},
      clock: () => t,
      ...(ttl !== undefined ? { ttl } : {}),
    });

  test('an invocation expires at exp + skew', async () => {
    const clock = makeClock(T0 + 59);
    const v = new Verifier({ trusted: [AUTH.publicKey], clock });
    assertAllowed(await v.verifyInvocation(token, proofAt(T0), { tool: 't', args: {} }));
    clock.now = T0 + 60;
    assertDenied(await v.verifyInvocation(token, proofAt(T0), { tool: 't', args: {} }), 'ERR_EXPIRED');
    // a longer ttl (at most 300 s) lasts longer
    assertAllowed(await v.verifyInvocation(token, proofAt(T0, 300), { tool: 't', args: {} }));
  });
  test('an invocation issued in the future: ERR_NOT_YET_VALID beyond the skew', async () => {
    const clock = makeClock();
    const v = new Verifier({ trusted: [AUTH.publicKey], clock });
    assertAllowed(await v.verifyInvocation(token, proofAt(T0 + 30), { tool: 't', args: {} }));
    assertDenied(await v.verifyInvocation(token, proofAt(T0 + 31), { tool: 't', args: {} }), 'ERR_NOT_YET_VALID');
    const v5 = new Verifier({ trusted: [AUTH.publicKey], clock, clockSkew: 5 });
    assertDenied(await v5.verifyInvocation(token, proofAt(T0 + 6), { tool: 't', args: {} }), 'ERR_NOT_YET_VALID');
    assertAllowed(await v5.verifyInvocation(token, proofAt(T0 + 5), { tool: 't', args: {} }));
  });
  test('verifier options are validated: ERR_INVALID_ARGUMENT', () => {
    assertThrowsCode(() => new Verifier({ trusted: [AUTH.publicKey], clockSkew: -1 }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(() => new Verifier({ trusted: [AUTH.publicKey], clockSkew: Number.NaN }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(() => new Verifier({ trusted: [AUTH.publicKey], invocationWindow: 301 }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(() => new Verifier({ trusted: [AUTH.publicKey], invocationWindow: 0 }), 'ERR_INVALID_ARGUMENT');
    assertThrowsCode(() => new Verifier(undefined as never), 'ERR_INVALID_ARGUMENT');
  });
});

test('fail closed on misbehaving plug-ins: a replay store answering anything but true, an asynchronous revocation check', async () => {
  const token = issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    grants: [{ resource: 'database://users/*', permissions: ['read'] }],
    ttl: '1h',
    clock: () => T0,
  });
  const odd = { checkAndRecord: () => ({ fresh: true }) as unknown as boolean };
  const v1 = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, replay: odd });
  const call = { tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, callId: 'pl-1' };
  const d1 = await v1.authorize(token, call);
  assert.equal(d1.allowed ? 'OK' : d1.code, 'ERR_REPLAY');
  let rejected = false;
  const v2 = new Verifier({
    trusted: [AUTH.publicKey],
    clock: () => T0,
    revocation: {
      check: (async () => {
        await Promise.resolve();
        rejected = true;
        throw new Error('revoked');
      }) as unknown as () => void,
    },
  });
  const d2 = await v2.authorize(token, { ...call, callId: 'pl-2' });
  // An asynchronous check is waited for (spec §10.9); its rejection with a plain Error denies the call.
  assert.equal(d2.allowed ? 'OK' : d2.code, 'ERR_INTERNAL');
  await new Promise((r) => setImmediate(r));
  assert.equal(rejected, true, 'its rejection was handled (the process is still here)');
});
