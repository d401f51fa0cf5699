/**
 * PKCS#11 for real: SoftHSM2 generates an Ed25519 key inside its token; that key signs a root
 * token and a revocation snapshot which today's Verifier and RevocationState accept, and the
 * token refuses to give out the private key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { generateKey, issueTokenWith, Token, Verifier } from '../../src/index.ts';
import { generatePkcs11Key, pkcs11Signer, signerFromUri } from '../../src/crypto/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { exportSnapshotWith, SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { parseDelta } from '../../src/revocation/delta.ts';
import { Keyring } from '../../src/verify/keyring.ts';
import { main } from '../../src/cli/main.ts';
import { softHsmToken } from './softhsm-helper.ts';

const require = createRequire(import.meta.url);
const CALL = { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: 42 } };
let calls = 0;

test('SoftHSM2: a key generated in the token signs a root token and a revocation snapshot that verify today; export is refused', async (t) => {
  const hsm = softHsmToken();
  const signer = await generatePkcs11Key({ module: hsm.module, token: hsm.token, label: 'root', pin: hsm.pin });
  t.after(() => signer.close());

  // A root token signed inside the token, verified by an unchanged Verifier.
  const agent = generateKey();
  const token = await issueTokenWith(signer, {
    subject: 'agent:support',
    holder: agent.publicKey,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    ttl: '1h',
  });
  const parsed = Token.parse(token.toString());
  const plain = new Verifier({ trusted: [signer.publicKey] });
  assert.equal((await plain.authorize(parsed, { ...CALL, callId: `c${++calls}` })).allowed, true);
  assert.equal(plain.verifyToken(parsed).subject, 'agent:support');

  // A revocation snapshot signed inside the token, accepted by RevocationState: the revoked token is denied.
  const registry = new RevocationRegistry({ path: join(hsm.dir, 'registry-1.db') });
  t.after(() => registry.close());
  registry.revokeId(plain.verifyToken(parsed).ids[0]!, { reason: 'test' });
  const snap = await exportSnapshotWith(registry, signer);
  const state = new RevocationState({ trusted: [signer.publicKey] });
  assert.equal(state.update(snap.text).outcome, 'installed');
  const checked = new Verifier({ trusted: [signer.publicKey], revocation: state });
  const denied = await checked.authorize(parsed, { ...CALL, callId: `c${++calls}` });
  assert.equal(denied.allowed, false);
  assert.equal(!denied.allowed && denied.code, 'ERR_REVOKED');

  // The private key stays in the token: sensitive, not extractable, CKA_VALUE refused.
  const p = require('pkcs11js') as typeof import('pkcs11js');
  const lib = new p.PKCS11();
  lib.load(hsm.module);
  try {
    lib.C_Initialize();
  } catch (e) {
    if ((e as { code?: number }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === hsm.token)!;
  const session = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
  t.after(() => lib.C_CloseSession(session));
  lib.C_FindObjectsInit(session, [
    { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
    { type: p.CKA_LABEL, value: 'root' },
  ]);
  const [priv] = lib.C_FindObjects(session, 1);
  lib.C_FindObjectsFinal(session);
  assert.ok(priv, 'the private key is in the token');
  const [extractable, sensitive] = lib.C_GetAttributeValue(session, priv, [{ type: p.CKA_EXTRACTABLE }, { type: p.CKA_SENSITIVE }]);
  assert.equal((extractable!.value as Buffer)[0], 0, 'CKA_EXTRACTABLE is false');
  assert.equal((sensitive!.value as Buffer)[0], 1, 'CKA_SENSITIVE is true');
  assert.throws(() => lib.C_GetAttributeValue(session, priv, [{ type: p.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
});

test('SoftHSM2: the same key found again by URI, through the CLI, with the PIN from the environment only', async (t) => {
  const hsm = softHsmToken();
  const made = await generatePkcs11Key({ module: hsm.module, token: hsm.token, label: 'issuer', pin: hsm.pin });
  made.close();
  const env = { CAPFRAME_PKCS11_PIN: hsm.pin };
  const uri = `pkcs11:token=${hsm.token};object=issuer?module-path=${hsm.module}`;

  // With no session of this process logged in (a PKCS#11 login is per application), a wrong PIN is refused.
  await assert.rejects(signerFromUri(uri, { env: { CAPFRAME_PKCS11_PIN: '0000' } }), { code: 'ERR_UNAUTHORIZED' });
  const again = await signerFromUri(uri, { env });
  t.after(() => again.close?.());
  assert.deepEqual(again.publicKey, made.publicKey);

  // capframe issue --signer: the token printed verifies under the key in the HSM.
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), env: { ...process.env, ...env }, cwd: hsm.dir };
  const holder = generateKey();
  const code = await main(
    [
      'issue',
      '--signer',
      uri,
      '--sub',
      'agent:cli',
      '--holder',
      `cfk1.${Buffer.from(holder.publicKey).toString('base64url')}`,
      '--grant',
      'tickets://acme/*:read',
      '--ttl',
      '10m',
    ],
    io,
  );
  assert.equal(code, 0, err.join(''));
  const token = Token.parse(out.join('').trim());
  assert.equal(new Verifier({ trusted: [made.publicKey] }).verifyToken(token).subject, 'agent:cli');

  // A publisher signing through the HSM: deltas and snapshots verify.
  const registry = new RevocationRegistry({ path: join(hsm.dir, 'registry-2.db') });
  t.after(() => registry.close());
  const publisher = new SnapshotPublisher({ registry, signer: again });
  await publisher.currentAsync();
  registry.revokeSubject('agent:gone');
  assert.equal(await publisher.refreshAsync(), true);
  const delta = parseDelta(publisher.latestDelta()!.text, new Keyring([made.publicKey]));
  assert.deepEqual(delta.subjects, ['agent:gone']);

  // Errors: a wrong PIN, an unknown label, a PIN in the URI (never echoed back).
  await assert.rejects(pkcs11Signer({ module: hsm.module, token: hsm.token, label: 'nope', pin: hsm.pin }), { code: 'ERR_CONFIG' });
  await assert.rejects(signerFromUri(`${uri}&pin-value=secret-pin`, { env }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_CONFIG');
    assert.ok(!e.message.includes('secret-pin'), e.message);
    return true;
  });
  await assert.rejects(signerFromUri(`pkcs11:token=${hsm.token};object=issuer`, { env }), { code: 'ERR_CONFIG' });
});
