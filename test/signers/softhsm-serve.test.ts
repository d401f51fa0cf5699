/**
 * `capframe serve` with its revocation feed and authority tokens signed by a key inside
 * SoftHSM2 (`signer: pkcs11:…` in server.revocation and server.authority).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { formatPublicKey, generateKey, Verifier } from '../../src/index.ts';
import { generatePkcs11Key } from '../../src/crypto/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { AuthorityClient } from '../../src/remote/index.ts';
import { loadSnapshotCheck } from '../../src/revocation/index.ts';
import { softHsmToken } from './softhsm-helper.ts';

const SECRET = 'softhsm-serve-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:hsm';

test('SoftHSM2: serve signs tokens, snapshots and deltas with a key that never leaves the token', async (t) => {
  const hsm = softHsmToken();
  const made = await generatePkcs11Key({ module: hsm.module, token: hsm.token, label: 'serve-root', pin: hsm.pin });
  made.close();
  const prev = process.env.CAPFRAME_PKCS11_PIN;
  process.env.CAPFRAME_PKCS11_PIN = hsm.pin; // the service reads the PIN from the environment only
  t.after(() => (prev === undefined ? delete process.env.CAPFRAME_PKCS11_PIN : (process.env.CAPFRAME_PKCS11_PIN = prev)));
  const uri = `pkcs11:token=${hsm.token};object=serve-root?module-path=${hsm.module}`;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-hsm-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(
    file,
    `trust:
  authorities:
    - ${formatPublicKey(made.publicKey)}
server:
  port: 0
  revocation:
    db: ./authority.db
    signer: '${uri}'
  authority:
    audience: ${AUDIENCE}
    signer: '${uri}'
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 2m
        grants:
          - resource: "tickets://acme/*"
            permissions: [read]
`,
  );
  const running = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  const client = new AuthorityClient({ url: running.url, audience: AUDIENCE });
  try {
    const holder = generateKey();
    await client.enrol({ holderKey: holder, profile: 'support', subject: 'agent:support:7', adminSecret: SECRET });
    const got = await client.obtain({ holderKey: holder, profile: 'support' });
    const trusted = [made.publicKey];
    const chain = new Verifier({ trusted }).verifyToken(got.token);
    assert.equal(chain.subject, 'agent:support:7');
    assert.deepEqual(await client.disenrol('agent:support:7', SECRET), { changed: true, revoked: true });
    const snap = await request(running.url + '/v1/revocations');
    assert.equal(snap.statusCode, 200);
    const check = loadSnapshotCheck((await snap.body.text()).trim(), trusted);
    assert.throws(() => check.check(chain, Math.floor(Date.now() / 1000)), { code: 'ERR_REVOKED' });
  } finally {
    await client.close();
    await running.close();
  }
});
