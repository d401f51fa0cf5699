/**
 * AWS KMS and Google Cloud KMS signers through their official clients, against local stubs
 * of their wire protocols (kms-stub.ts): a token and a revocation snapshot signed through
 * each verify with today's Verifier and RevocationState; a KMS answering with another key's
 * signature, the wrong key type or no answer fails closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, issueTokenWith, Token, Verifier } from '../../src/index.ts';
import { awsKmsSigner, gcpKmsSigner, signerFromUri, type Signer } from '../../src/crypto/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { exportSnapshotWith } from '../../src/revocation/publisher.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { main } from '../../src/cli/main.ts';
import { awsKmsStub, gcpKmsStub } from './kms-stub.ts';

// The AWS SDK reads credentials from the environment (its default chain): stub values, never real ones.
process.env.AWS_ACCESS_KEY_ID = 'AKIDSTUBSTUBSTUB';
process.env.AWS_SECRET_ACCESS_KEY = 'stub-secret';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
delete process.env.AWS_PROFILE;

const GCP_NAME = 'projects/acme/locations/global/keyRings/capframe/cryptoKeys/root/cryptoKeyVersions/1';
/** What ADC would give: a bearer token (the stub checks it), no network. */
const gcpAuth = { authClient: { getRequestHeaders: () => Promise.resolve({ Authorization: 'Bearer stub-token' }) } };

async function tokenAndSnapshotVerify(t: { after(fn: () => void): void }, signer: Signer): Promise<void> {
  const agent = generateKey();
  const token = await issueTokenWith(signer, {
    subject: 'agent:kms',
    holder: agent.publicKey,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    ttl: '5m',
  });
  const v = new Verifier({ trusted: [signer.publicKey] });
  const chain = v.verifyToken(Token.parse(token.toString()));
  assert.equal(chain.subject, 'agent:kms');
  const dir = mkdtempSync(join(tmpdir(), 'capframe-kms-'));
  const registry = new RevocationRegistry({ path: join(dir, 'r.db') });
  t.after(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  registry.revokeId(chain.ids[0]!);
  const state = new RevocationState({ trusted: [signer.publicKey] });
  assert.equal(state.update((await exportSnapshotWith(registry, signer)).text).outcome, 'installed');
  const d = await new Verifier({ trusted: [signer.publicKey], revocation: state }).authorize(token, {
    tool: 't',
    operation: 'read',
    resource: 'tickets://acme/1',
    args: {},
    callId: `c-${Math.random()}`,
  });
  assert.equal(!d.allowed && d.code, 'ERR_REVOKED');
}

test('AWS KMS (ECC_NIST_EDWARDS25519, ED25519_SHA_512, RAW) via @aws-sdk/client-kms: token and snapshot verify', async (t) => {
  const kms = await awsKmsStub();
  t.after(() => kms.close());
  const signer = await signerFromUri(`awskms:alias/capframe-root?region=us-east-1&endpoint=${encodeURIComponent(kms.url)}`);
  assert.deepEqual(signer.publicKey, kms.key.publicKey);
  await tokenAndSnapshotVerify(t, signer);
  assert.deepEqual([...new Set(kms.seen.map((s) => s.what))].sort(), ['TrentService.GetPublicKey', 'TrentService.Sign']);
  assert.ok(
    kms.seen.every((s) => s.auth),
    'every request is SigV4-signed',
  );
  assert.ok(kms.seen.filter((s) => s.what === 'TrentService.Sign').every((s) => s.body.MessageType === 'RAW' && s.body.SigningAlgorithm === 'ED25519_SHA_512'));

  // capframe issue --signer awskms:…
  const out: string[] = [];
  const err: string[] = [];
  const holder = generateKey();
  const code = await main(
    [
      'issue',
      '--signer',
      `awskms:alias/capframe-root?region=us-east-1&endpoint=${kms.url}`,
      '--sub',
      'agent:cli',
      '--holder',
      `cfk1.${Buffer.from(holder.publicKey).toString('base64url')}`,
      '--grant',
      'x://y/*:read',
      '--ttl',
      '1m',
    ],
    { stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: process.env, cwd: tmpdir() },
  );
  assert.equal(code, 0, err.join(''));
  assert.equal(new Verifier({ trusted: [kms.key.publicKey] }).verifyToken(out.join('').trim()).subject, 'agent:cli');
});

test('AWS KMS: refuses another key type, a signature by another key, messages over 4096 bytes, a missing key and a dead endpoint', async (t) => {
  const kms = await awsKmsStub();
  t.after(() => kms.close());
  const opts = { keyId: 'alias/capframe-root', region: 'us-east-1', endpoint: kms.url };
  const signer = await awsKmsSigner(opts);
  await assert.rejects(signer.sign(new Uint8Array(4097)), { code: 'ERR_TOO_LARGE' });
  kms.wrongKey = generateKey();
  await assert.rejects(signer.sign(new Uint8Array(10)), { code: 'ERR_SIGNATURE_INVALID' });
  kms.keySpec = 'ECC_NIST_P256';
  await assert.rejects(awsKmsSigner(opts), { code: 'ERR_CONFIG' });
  await assert.rejects(awsKmsSigner({ ...opts, keyId: 'alias/other' }), { code: 'ERR_CONFIG', message: /does not exist/ });
  const dead = await awsKmsStub();
  await assert.rejects(awsKmsSigner({ ...opts, endpoint: 'http://127.0.0.1:1', clientOptions: { maxAttempts: 1 } }), { code: 'ERR_UNAVAILABLE' });
  const deadSigner = await awsKmsSigner({ ...opts, endpoint: dead.url, clientOptions: { maxAttempts: 1 } });
  await dead.close();
  await assert.rejects(deadSigner.sign(new Uint8Array(10)), { code: 'ERR_UNAVAILABLE' });
});

test('GCP KMS (EC_SIGN_ED25519, asymmetricSign with data) via @google-cloud/kms over REST: token and snapshot verify', async (t) => {
  const kms = await gcpKmsStub(GCP_NAME);
  t.after(() => kms.close());
  const signer = await signerFromUri(`gcpkms:${GCP_NAME}?endpoint=${encodeURIComponent(kms.url)}`, { gcp: gcpAuth });
  assert.deepEqual(signer.publicKey, kms.key.publicKey);
  await tokenAndSnapshotVerify(t, signer);
  assert.deepEqual([...new Set(kms.seen.map((s) => s.what))].sort(), [`GET /v1/${GCP_NAME}/publicKey`, `POST /v1/${GCP_NAME}:asymmetricSign`]);
  assert.ok(kms.seen.every((s) => s.auth));

  kms.wrongKey = generateKey();
  await assert.rejects(signer.sign(new Uint8Array(10)), { code: 'ERR_SIGNATURE_INVALID' });
  await assert.rejects(signer.sign(new Uint8Array(64 * 1024 + 1)), { code: 'ERR_TOO_LARGE' });
  kms.keySpec = 'EC_SIGN_P256_SHA256';
  const clientOptions = { ...gcpAuth, apiEndpoint: '127.0.0.1', port: kms.port, fallback: true, protocol: 'http' };
  await assert.rejects(gcpKmsSigner({ name: GCP_NAME, clientOptions }), { code: 'ERR_CONFIG' });
  await assert.rejects(gcpKmsSigner({ name: 'projects/acme', clientOptions }), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(gcpKmsSigner({ name: GCP_NAME.replace('/1', '/2'), clientOptions }), { code: 'ERR_CONFIG' });
});
