/**
 * The async signing path: issueTokenWith, snapshots, deltas and the publisher through a
 * Signer give what the key path gives; a WebCrypto key that cannot be exported signs tokens
 * that verify today; a failing signer changes nothing; signer URIs are checked strictly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { webcrypto } from 'node:crypto';
import { generateKey, issueToken, issueTokenWith, serializePrivateKey, Token, Verifier } from '../../src/index.ts';
import { keySigner, parseSignerUri, signerFromConfig, signerFromUri, webCryptoSigner, generateWebCryptoSigner, type Signer } from '../../src/crypto/index.ts';
import { buildSnapshot, buildSnapshotWith, parseSnapshot } from '../../src/revocation/snapshot.ts';
import { buildDelta, buildDeltaWith } from '../../src/revocation/delta.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { Keyring } from '../../src/verify/keyring.ts';
import { CapframeError } from '../../src/errors.ts';

const GRANTS = [{ resource: 'tickets://acme/*', permissions: ['read'] }];

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-signer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('issueTokenWith(keySigner(key)) makes the very token issueToken makes with the key', async () => {
  const key = generateKey();
  const holder = generateKey();
  const o = { subject: 'agent:a', holder: holder.publicKey, grants: GRANTS, ttl: '1h', clock: () => 1_800_000_000, tokenId: new Uint8Array(16).fill(7) };
  const sync = issueToken({ key, ...o });
  const viaSigner = await issueTokenWith(keySigner(key), o);
  assert.equal(viaSigner.toString(), sync.toString());
});

test('issueTokenWith refuses a signer whose kid is not its key id, and a signer answering no 64-byte signature', async () => {
  const key = generateKey();
  const other = generateKey();
  const o = { subject: 'agent:a', holder: generateKey().publicKey, grants: GRANTS, ttl: '1h' };
  await assert.rejects(issueTokenWith({ publicKey: key.publicKey, kid: other.kid, sign: keySigner(key).sign }, o), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(issueTokenWith({ publicKey: key.publicKey, kid: key.kid, sign: () => Promise.resolve(new Uint8Array(63)) }, o), {
    code: 'ERR_SIGNATURE_INVALID',
  });
  await assert.rejects(issueTokenWith(keySigner(key), { ...o, ttl: undefined }), { code: 'ERR_INVALID_ARGUMENT' });
});

test('WebCrypto: a non-extractable Ed25519 key signs a token and a snapshot that verify today; exporting it is refused', async () => {
  const pair = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  await assert.rejects(webcrypto.subtle.exportKey('pkcs8', pair.privateKey), /not extractable/);
  await assert.rejects(webcrypto.subtle.exportKey('jwk', pair.privateKey), /not extractable/);
  await assert.rejects(webcrypto.subtle.exportKey('raw', pair.privateKey));
  const signer = await webCryptoSigner(pair.privateKey, pair.publicKey);
  const token = await issueTokenWith(signer, { subject: 'agent:web', holder: generateKey().publicKey, grants: GRANTS, ttl: '10m' });
  assert.equal(new Verifier({ trusted: [signer.publicKey] }).verifyToken(Token.parse(token.toString())).subject, 'agent:web');
  const snap = await buildSnapshotWith(
    { version: 3, iat: Math.floor(Date.now() / 1000), ids: [new Uint8Array(16).fill(1)], subjects: ['agent:x'], cutoffs: [] },
    signer,
  );
  assert.equal(new RevocationState({ trusted: [signer.publicKey] }).update(snap.text).outcome, 'installed');
  await assert.rejects(webCryptoSigner(pair.publicKey, pair.publicKey), { code: 'ERR_INVALID_ARGUMENT' });
  const fresh = await generateWebCryptoSigner();
  assert.equal(fresh.publicKey.length, 32);
});

test('snapshots and deltas through a Signer are the bytes the key signs', async () => {
  const key = generateKey();
  const content = { version: 2, iat: 1_800_000_000, ids: [new Uint8Array(16).fill(9)], subjects: ['agent:b'], cutoffs: [] };
  assert.equal((await buildSnapshotWith(content, keySigner(key))).text, buildSnapshot(content, key).text);
  const d = { from: 1, version: 2, iat: 1_800_000_000, ids: [new Uint8Array(16).fill(9)], subjects: [], cutoffs: [] };
  assert.equal((await buildDeltaWith(d, keySigner(key))).text, buildDelta(d, key).text);
  const bad: Signer = { ...keySigner(key), sign: () => Promise.resolve(new Uint8Array(10)) };
  await assert.rejects(buildSnapshotWith(content, bad), { code: 'ERR_SIGNATURE_INVALID' });
});

test('publisher through a Signer: a failed signature changes nothing, and the next refresh carries every change', async (t) => {
  const key = generateKey();
  const registry = new RevocationRegistry({ path: join(tempDir(t), 'r.db') });
  t.after(() => registry.close());
  let down = false;
  const inner = keySigner(key);
  const flaky: Signer = { publicKey: inner.publicKey, kid: inner.kid, sign: (m) => (down ? Promise.reject(new Error('HSM unplugged')) : inner.sign(m)) };
  let now = Math.floor(Date.now() / 1000) - 10;
  const publisher = new SnapshotPublisher({ registry, signer: flaky, clock: () => now });
  const state = new RevocationState({ trusted: [key.publicKey] });
  state.update((await publisher.currentAsync()).text);
  assert.throws(() => publisher.refresh(), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => new SnapshotPublisher({ registry, signer: flaky, key }), { code: 'ERR_INVALID_ARGUMENT' });

  const id = 'ab'.repeat(16);
  registry.revokeId(id);
  down = true;
  now += 1;
  await assert.rejects(publisher.refreshAsync(), /HSM unplugged/);
  assert.equal(publisher.version, 0, 'nothing was taken in');
  down = false;
  registry.revokeSubject('agent:later');
  now += 1;
  // Two calls at once run one after the other.
  const [a, b] = await Promise.all([publisher.refreshAsync(), publisher.currentAsync()]);
  assert.equal(a, true);
  assert.equal(b.version, registry.version);
  for (const d of publisher.deltasSince(0)!) state.applyDelta(d.text);
  assert.equal(state.versionOf(Buffer.from(key.kid).toString('base64url')), registry.version);
  const parsed = parseSnapshot(b.text, new Keyring([key.publicKey]));
  assert.equal(Buffer.from(parsed.ids).toString('hex'), id);
  assert.deepEqual(parsed.subjects, ['agent:later']);
});

test('signer URIs: what each names, and every way to get one wrong is ERR_CONFIG', async (t) => {
  assert.deepEqual(parseSignerUri('pkcs11:token=capframe;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:HSM_PIN'), {
    kind: 'pkcs11',
    module: '/usr/lib/softhsm/libsofthsm2.so',
    token: 'capframe',
    label: 'root',
    pinSource: 'env:HSM_PIN',
  });
  assert.deepEqual(parseSignerUri('pkcs11:slot-id=3;object=my%20key', { env: { CAPFRAME_PKCS11_MODULE: '/lib/p11.so' } }), {
    kind: 'pkcs11',
    module: '/lib/p11.so',
    slot: 3,
    label: 'my key',
    pinSource: 'env:CAPFRAME_PKCS11_PIN',
  });
  assert.deepEqual(parseSignerUri('awskms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'), {
    kind: 'awskms',
    keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  });
  assert.deepEqual(parseSignerUri('gcpkms:projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1'), {
    kind: 'gcpkms',
    name: 'projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1',
  });
  for (const bad of [
    '',
    'root.key',
    'https://kms',
    'file:',
    'pkcs11:object=root',
    'pkcs11:token=a;slot-id=1;object=root',
    'pkcs11:token=a',
    'pkcs11:token=a;object=b;pin-value=1234',
    'pkcs11:token=a;object=b?pin-value=1234',
    'pkcs11:token=a;object=b?pin-source=1234',
    'pkcs11:token=a;object=b;label=c',
    'pkcs11:token=a;object=b?module-path=x&module-path=y',
    'pkcs11:token=%zz;object=b',
    'awskms:',
    'awskms:key id',
    'awskms:k?endpoint=ftp://x',
    'awskms:k?profile=prod',
    'gcpkms:projects/p',
    'gcpkms:projects/p/locations/l/keyRings/r/cryptoKeys/k',
  ]) {
    assert.throws(
      () => parseSignerUri(bad),
      (e: CapframeError) => e.code === 'ERR_CONFIG' && !e.message.includes('1234'),
      bad,
    );
  }
  // Any string: a signer or ERR_CONFIG, never another failure.
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.constantFrom('pkcs11:', 'awskms:', 'gcpkms:', 'file:').chain((p) => fc.string().map((s) => p + s)),
      ),
      (s) => {
        try {
          parseSignerUri(s, { env: {} });
        } catch (e) {
          assert.equal((e as CapframeError).code, 'ERR_CONFIG', String(e));
        }
      },
    ),
    { numRuns: 2000 },
  );

  // file: and the config form.
  const dir = tempDir(t);
  const key = generateKey();
  writeFileSync(join(dir, 'root.key'), serializePrivateKey(key), { mode: 0o600 });
  assert.deepEqual((await signerFromUri('file:root.key', { cwd: dir })).publicKey, key.publicKey);
  assert.deepEqual((await signerFromConfig({ key: 'root.key' }, { cwd: dir })).publicKey, key.publicKey);
  assert.deepEqual((await signerFromConfig({ signer: `file:${join(dir, 'root.key')}` })).publicKey, key.publicKey);
  await assert.rejects(signerFromConfig({ key: 'root.key', signer: 'file:root.key' }, { cwd: dir }), { code: 'ERR_CONFIG' });
  await assert.rejects(signerFromConfig({}, { cwd: dir }), { code: 'ERR_CONFIG' });
  await assert.rejects(signerFromUri('file:missing.key', { cwd: dir }), { code: 'ERR_CONFIG' });
  await assert.rejects(signerFromUri('pkcs11:token=a;object=b', { env: {} }), { code: 'ERR_CONFIG' });
});
