import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKey, Verifier, Keyring, type Chain } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { RevocationState, loadSnapshotCheck } from '../../src/revocation/state.ts';
import { bloomFromParams, buildSnapshot, containsId, parseSnapshot, SNAPSHOT_PREFIX } from '../../src/revocation/snapshot.ts';
import { encode, decodeStrict } from '../../src/token/cbor.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { chainFixture, read, tempDir } from './helpers.ts';

function setup(t: { after(fn: () => void): void }) {
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db` });
  t.after(() => registry.close());
  const publisher = new SnapshotPublisher({ registry, key: f.authority });
  const state = new RevocationState({ trusted: [f.authority.publicKey] });
  const verifier = new Verifier({ trusted: [f.authority.publicKey], revocation: state });
  const sync = () => state.update(publisher.current().text);
  return { ...f, registry, publisher, state, verifier, sync };
}

test('revoking the root block denies the root and every token derived from it', async (t) => {
  const s = setup(t);
  s.sync();
  assert.equal((await read(s.verifier, s.grandchild)).allowed, true);
  const rootId = s.verifier.verifyToken(s.root).ids[0]!;
  const r = s.registry.revokeId(rootId, { reason: 'agent compromised' });
  assert.deepEqual([r.changed, r.version], [true, 1]);
  assert.equal(s.sync().outcome, 'installed');
  for (const tok of [s.root, s.child, s.grandchild]) {
    const d = await read(s.verifier, tok);
    assert.equal(d.allowed, false);
    assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  }
});

test('revoking a delegated block denies it and its descendants, not its parent', async (t) => {
  const s = setup(t);
  const r = s.registry.revokeToken(s.child);
  assert.equal(r.target, s.verifier.verifyToken(s.child).ids[1]);
  s.sync();
  assert.equal((await read(s.verifier, s.root)).allowed, true);
  const dc = await read(s.verifier, s.child);
  const dg = await read(s.verifier, s.grandchild);
  assert.equal(dc.allowed ? '' : dc.code, 'ERR_REVOKED');
  assert.equal(dg.allowed ? '' : dg.code, 'ERR_REVOKED');
  assert.match(dg.allowed ? '' : dg.reason, /delegation block 1/);
});

test('revoking a subject denies every chain that names it in any block', async (t) => {
  const s = setup(t);
  s.registry.revokeSubject('agent:summarizer');
  s.sync();
  assert.equal((await read(s.verifier, s.root)).allowed, true);
  const d = await read(s.verifier, s.grandchild);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  assert.match(d.allowed ? '' : d.reason, /agent:summarizer/);
});

test('a key cut-off revokes tokens issued before it and spares later ones', async (t) => {
  const s = setup(t);
  const chain = s.verifier.verifyToken(s.root);
  const iat = chain.blocks[0]!.iat!;
  s.registry.revokeIssuedBefore(chain.kid, iat); // iat < before is false: still valid
  s.sync();
  assert.equal((await read(s.verifier, s.root)).allowed, true);
  assert.equal(s.registry.revokeIssuedBefore(chain.kid, iat - 5).changed, false, 'an earlier cut-off changes nothing');
  s.registry.revokeIssuedBefore(chain.kid, iat + 1);
  s.sync();
  const d = await read(s.verifier, s.child);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  assert.match(d.allowed ? '' : d.reason, new RegExp(chain.kid));
});

test('the answer is cached per chain and recomputed when the snapshot version changes', async (t) => {
  const s = setup(t);
  s.sync();
  const chain: Chain = s.verifier.verifyToken(s.child);
  s.state.check(chain, Math.floor(Date.now() / 1000)); // cached: not revoked at version 0
  s.registry.revokeToken(s.child);
  // same version held: cached answer stands
  s.state.check(chain, Math.floor(Date.now() / 1000));
  s.sync();
  assert.throws(() => s.state.check(chain, Math.floor(Date.now() / 1000)), { code: 'ERR_REVOKED' });
  assert.throws(() => s.state.check(chain, Math.floor(Date.now() / 1000)), { code: 'ERR_REVOKED' });
});

test('no snapshot yet, or one older than maxAge, fails closed with ERR_REVOCATION_STALE', async (t) => {
  const f = chainFixture();
  let now = Math.floor(Date.now() / 1000);
  const state = new RevocationState({ trusted: [f.authority.publicKey], maxAge: 60, skew: 0, clock: () => now });
  const v = new Verifier({ trusted: [f.authority.publicKey], revocation: state, clock: () => now });
  const d0 = await read(v, f.root);
  assert.equal(d0.allowed ? '' : d0.code, 'ERR_REVOCATION_STALE');
  state.update(buildSnapshot({ version: 1, iat: now, ids: [], subjects: [], cutoffs: [] }, f.authority).text);
  assert.equal((await read(v, f.root)).allowed, true);
  now += 61;
  const d1 = await read(v, f.root);
  assert.equal(d1.allowed ? '' : d1.code, 'ERR_REVOCATION_STALE');
  // a re-signed snapshot of the same version refreshes it
  assert.equal(state.update(buildSnapshot({ version: 1, iat: now, ids: [], subjects: [], cutoffs: [] }, f.authority).text).outcome, 'refreshed');
  assert.equal((await read(v, f.root)).allowed, true);
  void t;
});

test('failing open needs the explicit option and warns on every call', async () => {
  const f = chainFixture();
  const warnings: string[] = [];
  const state = new RevocationState({ trusted: [f.authority.publicKey], failOpen: true, warn: (m) => warnings.push(m) });
  const v = new Verifier({ trusted: [f.authority.publicKey], revocation: state });
  assert.equal(warnings.length, 1, 'warned at construction');
  assert.equal((await read(v, f.root)).allowed, true);
  assert.equal((await read(v, f.root)).allowed, true);
  assert.equal(warnings.length, 3);
  assert.match(warnings[2]!, /FAIL-OPEN/);
});

test('snapshots: rollback, untrusted key, bad signature, non-canonical and future iat are refused', (t) => {
  const s = setup(t);
  const now = Math.floor(Date.now() / 1000);
  const v2 = buildSnapshot({ version: 2, iat: now, ids: [], subjects: [], cutoffs: [] }, s.authority);
  const v1 = buildSnapshot({ version: 1, iat: now, ids: [], subjects: [], cutoffs: [] }, s.authority);
  assert.equal(s.state.update(v2.text).outcome, 'installed');
  assert.throws(() => s.state.update(v1.text), { code: 'ERR_REVOCATION_ROLLBACK' });
  assert.equal(s.state.version, 2);
  assert.equal(s.state.update(v2.text).outcome, 'ignored');

  const other = generateKey();
  assert.throws(() => s.state.update(buildSnapshot({ version: 9, iat: now, ids: [], subjects: [], cutoffs: [] }, other).text), { code: 'ERR_UNKNOWN_KEY' });

  // signed by the right kid, payload altered
  const env = decodeStrict(buildSnapshot({ version: 9, iat: now, ids: [], subjects: [], cutoffs: [] }, s.authority).bytes) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const payload = Uint8Array.from(env[1]);
  payload[2] = payload[2]! ^ 1;
  assert.throws(() => s.state.update(SNAPSHOT_PREFIX + encodeBase64url(encode([env[0], payload, env[2]]))), { code: 'ERR_SIGNATURE_INVALID' });
  // non-canonical envelope (an indefinite-length array)
  const bytes = buildSnapshot({ version: 9, iat: now, ids: [], subjects: [], cutoffs: [] }, s.authority).bytes;
  const indefinite = new Uint8Array([0x9f, ...bytes.subarray(1), 0xff]);
  assert.throws(() => s.state.update(indefinite), { code: 'ERR_MALFORMED' });
  assert.throws(() => s.state.update(buildSnapshot({ version: 9, iat: now + 3600, ids: [], subjects: [], cutoffs: [] }, s.authority).text), {
    code: 'ERR_NOT_YET_VALID',
  });
  assert.equal(s.state.version, 2, 'the held snapshot is unchanged after refusals');
});

test('parseSnapshot round-trips content and refuses unsorted ids', () => {
  const key = generateKey();
  const ids = Array.from({ length: 50 }, () => new Uint8Array(randomBytes(16)));
  const snap = buildSnapshot({ version: 7, iat: 1_700_000_000, ids, subjects: ['b', 'a'], cutoffs: [{ kid: key.kid, before: 5 }] }, key);
  const p = parseSnapshot(snap.text, new Keyring([key.publicKey]));
  assert.deepEqual([p.version, p.iat, p.ids.length, p.subjects, p.kid], [7, 1_700_000_000, 800, ['a', 'b'], kidToString(key.kid)]);
  assert.equal(p.cutoffs[0]!.before, 5);
  // unsorted ids inside a correctly signed payload
  const unsorted = new Uint8Array(32);
  unsorted.fill(9, 0, 16);
  unsorted.fill(1, 16, 32);
  const bad = buildSnapshot({ version: 1, iat: 1, ids: unsorted, subjects: [], cutoffs: [] }, key);
  assert.throws(() => parseSnapshot(bad.text, new Keyring([key.publicKey])), { code: 'ERR_MALFORMED', message: /ascending/ });
});

test('loadSnapshotCheck applies a snapshot file to a verifier', async (t) => {
  const s = setup(t);
  s.registry.revokeToken(s.grandchild);
  const check = loadSnapshotCheck(s.publisher.current().text, [s.authority.publicKey]);
  const v = new Verifier({ trusted: [s.authority.publicKey], revocation: check });
  assert.equal((await read(v, s.child)).allowed, true);
  const d = await read(v, s.grandchild);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  assert.throws(() => loadSnapshotCheck(s.publisher.current().text, [generateKey().publicKey]), { code: 'ERR_UNKNOWN_KEY' });
});

test('100,000 revoked ids and 1,000,000 live ids: zero wrong denials, zero missed revocations', () => {
  const key = generateKey();
  const revoked = new Uint8Array(randomBytes(100_000 * 16));
  const ids = Array.from({ length: 100_000 }, (_, i) => revoked.subarray(i * 16, i * 16 + 16));
  const snap = buildSnapshot({ version: 1, iat: Math.floor(Date.now() / 1000), ids, subjects: [], cutoffs: [] }, key);
  const state = new RevocationState({ trusted: [key.publicKey] });
  state.update(snap.text);
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const revokedSet = new Set(ids.map(hex));
  // every revoked id: bloom hit and exact confirmation
  let missed = 0;
  for (const id of ids) if (!state.isRevokedId(hex(id))) missed++;
  assert.equal(missed, 0);
  // 1,000,000 live ids through the exact-confirm path (the only path that can deny)
  const held = parseSnapshot(snap.text, new Keyring([key.publicKey]));
  const live = new Uint8Array(randomBytes(1_000_000 * 16));
  let wrong = 0;
  let liveCount = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const id = live.subarray(i * 16, i * 16 + 16);
    liveCount++;
    // a hit on a random id would be a wrong denial unless it truly is in the revoked set (2^-128)
    if (containsId(held.ids, id) && !revokedSet.has(hex(id))) wrong++;
  }
  assert.equal(wrong, 0);
  assert.equal(liveCount, 1_000_000);
  // and through the full path (bloom then exact) on a sample, including bloom false positives
  const bloom = bloomFromParams(held.bloom);
  let bloomHits = 0;
  let denied = 0;
  for (let i = 0; i < 20_000; i++) {
    const h = hex(live.subarray(i * 16, i * 16 + 16));
    if (bloom.has(h)) bloomHits++;
    if (state.isRevokedId(h)) denied++;
  }
  assert.equal(denied, 0);
  assert.ok(bloomHits > 0, `bloom false positives occurred (${bloomHits}) and were all confirmed live`);
});

test('the publisher updates incrementally and re-signs without a version change', (t) => {
  const f = chainFixture();
  let now = Math.floor(Date.now() / 1000);
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db`, clock: () => now });
  t.after(() => registry.close());
  const publisher = new SnapshotPublisher({ registry, key: f.authority, clock: () => now, resignAfter: 60 });
  const ring = new Keyring([f.authority.publicKey]);
  const first = publisher.current();
  assert.equal(first.version, 0);
  assert.equal(publisher.current(), first, 'unchanged registry: the same signed snapshot');
  const a = randomBytes(16).toString('hex');
  const b = randomBytes(16).toString('hex');
  registry.revokeId(a);
  registry.revokeIds([b, randomBytes(16).toString('hex')]);
  registry.revokeSubject('agent:gone');
  const second = publisher.current();
  const p = parseSnapshot(second.text, ring);
  assert.equal(p.version, 3);
  assert.equal(p.ids.length, 48);
  assert.deepEqual(p.subjects, ['agent:gone']);
  const state = new RevocationState({ trusted: ring, clock: () => now });
  state.update(second.text);
  assert.equal(state.isRevokedId(a), true);
  assert.equal(state.isRevokedId(b), true);
  assert.equal(state.isRevokedId(randomBytes(16).toString('hex')), false);
  now += 61;
  const third = publisher.current();
  assert.deepEqual([third.version, third.iat], [3, now]);
  assert.equal(state.update(third.text).outcome, 'refreshed');
});
