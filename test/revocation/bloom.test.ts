/**
 * The bloom-only compact form (spec §10.9): a verifier that holds only the
 * signed filter, confirming hits with the verification service over real HTTP
 * on 127.0.0.1 (POST /v1/revocation/check) before denying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKey, Keyring, Verifier, CapframeError, type Chain } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { serviceRevocation } from '../../src/server/revocation.ts';
import { createVerifyService } from '../../src/server/index.ts';
import { BloomRevocationState } from '../../src/revocation/bloom-state.ts';
import { buildBloomForm, buildBloomFilter, bloomHas, bloomSize, parseBloomForm, BLOOM_PREFIX } from '../../src/revocation/bloom.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { revocationConfirmer } from '../../src/remote/revocation-confirm.ts';
import { RevocationSync } from '../../src/remote/revocation-sync.ts';
import { RevokedError } from '../../src/errors.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { chainFixture, read, tempDir } from './helpers.ts';

const now = () => Math.floor(Date.now() / 1000);

/** A signed compact form whose filter has every bit set: every id is a (false-positive) hit. */
function allOnes(key: ReturnType<typeof generateKey>, version: number, iat = now()) {
  const { bits, hashes } = bloomSize(1000);
  return buildBloomForm({ version, iat, count: 1000, bloom: { bits, hashes, filter: new Uint8Array(bits / 8).fill(0xff) }, subjects: [], cutoffs: [] }, key);
}

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = tempDir(t);
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: join(dir, 'authority.db') });
  const rev = serviceRevocation({ registry, key: f.authority, trusted: [f.authority.publicKey] });
  const service = createVerifyService({
    verifier: new Verifier({ trusted: [f.authority.publicKey], revocation: rev.state }),
    revocationLookup: rev.lookup,
    handlers: [rev.handler],
  });
  const { url } = await service.listen(0, '127.0.0.1');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await service.close();
    rev.close();
    registry.close();
  };
  t.after(close);
  const state = new BloomRevocationState({ trusted: [f.authority.publicKey], confirm: revocationConfirmer({ url, timeoutMs: 5000 }) });
  const sync = new RevocationSync({ url, state, stream: false, pollInterval: 3600 });
  const verifier = new Verifier({ trusted: [f.authority.publicKey], revocation: state });
  return { f, registry, state, sync, verifier, url, close };
}

test('a filter hit that the service confirms as revoked is denied (ERR_REVOKED)', async (t) => {
  const { f, registry, state, sync, verifier } = await setup(t);
  await sync.refresh();
  assert.equal((await read(verifier, f.grandchild)).allowed, true);
  registry.revokeToken(f.child, { trusted: new Keyring([f.authority.publicKey]) });
  const r = await sync.refresh();
  assert.equal(r.outcome, 'installed');
  const d = await read(verifier, f.grandchild);
  assert.equal(d.allowed, false);
  assert.equal(d.allowed === false && d.code, 'ERR_REVOKED');
  // The ancestor stays allowed: its ids are not in the filter (or, if a false positive, not revoked).
  assert.equal((await read(verifier, f.root)).allowed, true);
  // The confirmed answer is remembered: the next check decides without the service.
  assert.ok(state.remembered >= 1);
});

test('a false positive that the service says is not revoked is allowed, and the answer is remembered', async (t) => {
  const { f, state, verifier } = await setup(t);
  state.update(allOnes(f.authority, 5).text);
  const d = await read(verifier, f.grandchild);
  assert.equal(d.allowed, true, d.allowed ? '' : `${d.code}: ${d.reason}`);
  assert.equal(state.remembered, 3, 'the three hit ids were confirmed not revoked');
});

test('a filter hit while the service is down is denied (ERR_UNAVAILABLE), never allowed', async (t) => {
  const { f, state, verifier, close } = await setup(t);
  state.update(allOnes(f.authority, 5).text);
  await close();
  const d = await read(verifier, f.grandchild);
  assert.equal(d.allowed, false);
  assert.equal(d.allowed === false && d.code, 'ERR_UNAVAILABLE');
});

test('no filter hit: allowed without asking the service (and synchronously)', () => {
  const f = chainFixture();
  let asked = 0;
  const state = new BloomRevocationState({
    trusted: [f.authority.publicKey],
    confirm: async () => {
      asked++;
      return { revoked: [] };
    },
  });
  const empty = buildBloomFilter(new Uint8Array(0));
  state.update(buildBloomForm({ version: 1, iat: now(), count: 0, bloom: empty, subjects: [], cutoffs: [] }, f.authority).text);
  const chain = new Verifier({ trusted: [f.authority.publicKey] }).verifyToken(f.grandchild);
  assert.equal(state.check(chain, now()), undefined);
  assert.equal(asked, 0);
});

test('subjects and key cut-offs of the compact form are exact: denied without asking', () => {
  const f = chainFixture();
  const state = new BloomRevocationState({ trusted: [f.authority.publicKey], confirm: () => Promise.reject(new Error('not asked')) });
  state.update(
    buildBloomForm({ version: 1, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: ['agent:summarizer'], cutoffs: [] }, f.authority)
      .text,
  );
  const chain = new Verifier({ trusted: [f.authority.publicKey] }).verifyToken(f.grandchild);
  assert.throws(() => state.check(chain, now()), RevokedError);
});

test('tampered, unsigned (untrusted key) and rolled-back compact forms are refused; the held one stays', () => {
  const f = chainFixture();
  const other = generateKey();
  const state = new BloomRevocationState({ trusted: [f.authority.publicKey, other.publicKey], confirm: async () => ({ revoked: [] }) });
  const good = buildBloomForm({ version: 7, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, f.authority);
  assert.equal(state.update(good.text).outcome, 'installed');
  const tampered = Uint8Array.from(good.bytes);
  tampered[tampered.length - 70]! ^= 1; // inside the payload
  assert.throws(
    () => state.update(tampered),
    (e: CapframeError) => e.code === 'ERR_SIGNATURE_INVALID',
  );
  const mallory = generateKey();
  const untrusted = buildBloomForm({ version: 9, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, mallory);
  assert.throws(
    () => state.update(untrusted.text),
    (e: CapframeError) => e.code === 'ERR_UNKNOWN_KEY',
  );
  const older = buildBloomForm({ version: 6, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, f.authority);
  assert.throws(
    () => state.update(older.text),
    (e: CapframeError) => e.code === 'ERR_REVOCATION_ROLLBACK',
  );
  assert.equal(state.versionOf(f.authority.kid.length ? encodeBase64url(f.authority.kid) : ''), 7);
  // A snapshot or delta is not a compact form.
  assert.throws(
    () => state.update('cfr1.' + good.text.slice(BLOOM_PREFIX.length)),
    (e: CapframeError) => e.code === 'ERR_MALFORMED',
  );
});

test("one trusted authority's compact form cannot un-revoke another's chains", async () => {
  const f = chainFixture();
  const other = generateKey();
  const state = new BloomRevocationState({
    trusted: [f.authority.publicKey, other.publicKey],
    confirm: async (ids) => ({ revoked: [...ids] }),
  });
  state.update(allOnes(f.authority, 3).text);
  // The other authority's empty form under a huge version speaks only for its own chains.
  state.update(
    buildBloomForm({ version: 2 ** 53 - 1, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, other).text,
  );
  const chain = new Verifier({ trusted: [f.authority.publicKey] }).verifyToken(f.grandchild);
  await assert.rejects(async () => state.check(chain, now()), RevokedError);
  // And A's next form is not refused as a rollback.
  assert.equal(state.update(allOnes(f.authority, 4).text).outcome, 'installed');
});

test('an asynchronous revocation check is waited for by the call rules (a rejection denies; the proof is not consumed)', async () => {
  const f = chainFixture();
  let revoked = true;
  const v = new Verifier({
    trusted: [f.authority.publicKey],
    revocation: {
      check: async (_c: Chain) => {
        if (revoked) throw new RevokedError('revoked (async)');
      },
    },
  });
  const call = { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: 42 }, callId: 'same' };
  const d = await v.authorize(f.grandchild, call);
  assert.equal(d.allowed === false && d.code, 'ERR_REVOKED');
  revoked = false;
  assert.equal((await v.authorize(f.grandchild, call)).allowed, true);
  assert.equal((await v.authorize(f.grandchild, call)).allowed === false, true, 'then the replay rule applies');
});

test('fuzz: the compact-form decoder throws only CapframeErrors', () => {
  const f = chainFixture();
  const keyring = new Keyring([f.authority.publicKey]);
  const ids = randomBytes(16 * 50);
  const good = buildBloomForm({ version: 1, iat: now(), count: 50, bloom: buildBloomFilter(ids), subjects: ['a', 'b'], cutoffs: [] }, f.authority);
  assert.equal(parseBloomForm(good.bytes, keyring).count, 50);
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from(good.bytes);
    const n = 1 + (i % 4);
    for (let j = 0; j < n; j++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    const cut = i % 7 === 0 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b;
    for (const input of [cut, BLOOM_PREFIX + encodeBase64url(cut)]) {
      try {
        parseBloomForm(input, keyring);
      } catch (e) {
        assert.ok(e instanceof CapframeError, `non-CapframeError: ${String(e)}`);
      }
    }
  }
  for (const junk of ['', 'cfrb1.', 'cfrb1.!!', 'cfrb1.' + 'A'.repeat(100), new Uint8Array(0), new Uint8Array([0x83, 0x48])]) {
    assert.throws(() => parseBloomForm(junk, keyring), CapframeError);
  }
});

test('the publisher keeps the compact form current: ids revoked after it was built are in the next form', (t) => {
  const dir = tempDir(t);
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: join(dir, 'authority.db') });
  t.after(() => registry.close());
  const first = Array.from({ length: 200 }, () => randomBytes(16).toString('hex'));
  registry.revokeIds(first);
  const publisher = new SnapshotPublisher({ registry, key: f.authority });
  const keyring = new Keyring([f.authority.publicKey]);
  const a = parseBloomForm(publisher.currentBloom().text, keyring);
  assert.equal(a.count, 200);
  for (const id of first) assert.ok(bloomHas(a.bloom, Buffer.from(id, 'hex')));
  const late = randomBytes(16).toString('hex');
  registry.revokeId(late);
  registry.revokeSubject('agent:late');
  const b = parseBloomForm(publisher.currentBloom().text, keyring);
  assert.ok(b.version > a.version);
  assert.equal(b.count, 201);
  assert.ok(bloomHas(b.bloom, Buffer.from(late, 'hex')), 'the id revoked after the build is in the filter');
  assert.deepEqual([...b.subjects], ['agent:late']);
  for (const id of first) assert.ok(bloomHas(b.bloom, Buffer.from(id, 'hex')));
  // Beyond a tenth more than it was sized for, the filter is built again for the new count.
  registry.revokeIds(Array.from({ length: 100 }, () => randomBytes(16).toString('hex')));
  const c = parseBloomForm(publisher.currentBloom().text, keyring);
  assert.equal(c.count, 301);
  assert.equal(c.bloom.bits, bloomSize(301).bits);
});
