/**
 * Revocation state per authority: a verifier trusting keys A and B holds one
 * version line per snapshot signer, and a signer's snapshots speak only for
 * the chains its scope covers (by default: chains rooted in its own key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, Verifier } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { buildSnapshot } from '../../src/revocation/snapshot.ts';
import { chainFixture, read } from './helpers.ts';

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const now = () => Math.floor(Date.now() / 1000);
const empty = (version: number) => ({ version, iat: now(), ids: [], subjects: [], cutoffs: [] });

function twoAuthorities() {
  const a = chainFixture();
  const b = chainFixture();
  const trusted = [a.authority.publicKey, b.authority.publicKey];
  return { a, b, trusted };
}

test("another trusted authority cannot un-revoke A's revocation with a huge version and an empty list", async () => {
  const { a, b, trusted } = twoAuthorities();
  const state = new RevocationState({ trusted });
  const verifier = new Verifier({ trusted, revocation: state });
  const rootId = verifier.verifyToken(a.root).ids[0]!;
  state.update(buildSnapshot({ ...empty(3), ids: [Buffer.from(rootId, 'hex')] }, a.authority).text);
  const before = await read(verifier, a.child);
  assert.equal(before.allowed ? '' : before.code, 'ERR_REVOKED');

  // B installs version 2^53-1 with nothing revoked.
  const bMax = buildSnapshot(empty(MAX), b.authority).text;
  assert.equal(state.update(bMax).outcome, 'installed');
  const after = await read(verifier, a.child);
  assert.equal(after.allowed ? '' : after.code, 'ERR_REVOKED', "A's revocation still holds");
  // A's next snapshot is its own version line: not a rollback.
  assert.equal(state.update(buildSnapshot({ ...empty(4), ids: [Buffer.from(rootId, 'hex')] }, a.authority).text).outcome, 'installed');
  assert.equal(state.versionOf(kidToString(a.authority.kid)), 4);
  assert.equal(state.versionOf(kidToString(b.authority.kid)), MAX);
  // B's own chains are unaffected by A's list; B's line still holds its snapshot (the same one
  // again is ignored: a rebuilt one could carry a later iat and count as a refresh).
  assert.equal(state.update(bMax).outcome, 'ignored');
  assert.equal((await read(verifier, b.child)).allowed, true);
});

test("a snapshot speaks only for chains rooted in its signer: B cannot revoke A's tokens", async () => {
  const { a, b, trusted } = twoAuthorities();
  const state = new RevocationState({ trusted });
  const verifier = new Verifier({ trusted, revocation: state });
  const aChain = verifier.verifyToken(a.root);
  state.update(buildSnapshot(empty(1), a.authority).text);
  // B lists A's root id, A's subject and a cut-off for A's key.
  state.update(
    buildSnapshot(
      {
        version: 5,
        iat: now(),
        ids: [Buffer.from(aChain.ids[0]!, 'hex')],
        subjects: ['agent:support'],
        cutoffs: [{ kid: a.authority.kid, before: now() + 10 }],
      },
      b.authority,
    ).text,
  );
  assert.equal((await read(verifier, a.child)).allowed, true, "B's snapshot does not speak for A's chains");
  const bd = await read(verifier, b.child);
  assert.equal(bd.allowed ? '' : bd.code, 'ERR_REVOKED', "B's subject revocation applies to B's own chains");
});

test('a missing or stale snapshot of one authority fails closed for its chains only', async () => {
  const { a, b, trusted } = twoAuthorities();
  let t = now();
  const state = new RevocationState({ trusted, maxAge: 60, skew: 0, clock: () => t });
  const verifier = new Verifier({ trusted, revocation: state, clock: () => t });
  state.update(buildSnapshot({ ...empty(1), iat: t }, a.authority).text);
  assert.equal((await read(verifier, a.child)).allowed, true);
  const bd = await read(verifier, b.child);
  assert.equal(bd.allowed ? '' : bd.code, 'ERR_REVOCATION_STALE');
  assert.match(bd.allowed ? '' : bd.reason, new RegExp(kidToString(b.authority.kid)));
  state.update(buildSnapshot({ ...empty(1), iat: t }, b.authority).text);
  t += 30;
  state.update(buildSnapshot({ ...empty(1), iat: t }, b.authority).text);
  t += 40; // A's snapshot is 70 s old, B's 40 s
  const ad = await read(verifier, a.child);
  assert.equal(ad.allowed ? '' : ad.code, 'ERR_REVOCATION_STALE');
  assert.equal((await read(verifier, b.child)).allowed, true);
});

test("scopes: the new key's registry speaks for the old key's chains (rotation); every speaker must be fresh", async () => {
  const { a: old, b: cur } = twoAuthorities();
  const trusted = [old.authority.publicKey, cur.authority.publicKey];
  const state = new RevocationState({
    trusted,
    scopes: [{ signer: cur.authority.publicKey, covers: [old.authority.publicKey, kidToString(cur.authority.kid)] }],
  });
  const verifier = new Verifier({ trusted, revocation: state });
  const oldRoot = verifier.verifyToken(old.root).ids[0]!;
  state.update(buildSnapshot(empty(1), cur.authority).text);
  assert.equal((await read(verifier, old.child)).allowed, true);
  state.update(buildSnapshot({ ...empty(2), ids: [Buffer.from(oldRoot, 'hex')] }, cur.authority).text);
  const d = await read(verifier, old.child);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  // The old key is trusted for tokens but names no scope: its snapshots are refused.
  assert.throws(() => state.update(buildSnapshot(empty(MAX), old.authority).text), { code: 'ERR_UNKNOWN_KEY' });
  assert.equal(state.versionOf(kidToString(cur.authority.kid)), 2);
  // A root key no scope covers has nothing speaking for it: fail closed.
  const third = chainFixture();
  const v3 = new Verifier({ trusted: [...trusted, third.authority.publicKey], revocation: state });
  const d3 = await read(v3, third.child);
  assert.equal(d3.allowed ? '' : d3.code, 'ERR_REVOCATION_STALE');
  assert.match(d3.allowed ? '' : d3.reason, /no revocation scope covers/);
});

test('scopes are checked when the state is built', () => {
  const a = generateKey();
  const stranger = generateKey();
  assert.throws(() => new RevocationState({ trusted: [a.publicKey], scopes: [{ signer: stranger.publicKey, covers: [a.publicKey] }] }), {
    code: 'ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => new RevocationState({ trusted: [a.publicKey], scopes: [{ signer: a.publicKey, covers: ['not-a-kid'] }] }), {
    code: 'ERR_INVALID_ARGUMENT',
  });
});
