/**
 * `remote.revocationForm: bloom` end to end with a real `capframe serve`: the
 * local fallback holds only the signed compact form (GET /v1/revocations/bloom)
 * and the service answers POST /v1/revocation/check from its exact list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../../src/index.ts';
import { Guard, loadConfig } from '../../src/langchain/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { startService } from '../../src/server/index.ts';
import { Verifier } from '../../src/verify/verifier.ts';
import { BloomRevocationState } from '../../src/revocation/bloom-state.ts';

const authority = generateKey();
const holder = generateKey();
const SECRET = 'bloom-config-admin-secret-0123';

test('remote.revocationForm: bloom: the fallback holds the compact form; the service confirms hits from its exact list', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bloomcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(
    file,
    `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\naudit:\n  sink: none\ntools:\n  get_ticket:\n    resource: tickets://acme/{id}\n    operation: read\nreplay:\n  store: sqlite\n  path: ./replay.db\nserver:\n  port: 0\n  revocation:\n    db: ./authority.db\n    keyFile: ./authority.key\n`,
  );
  const s = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  t.after(() => s.close());
  const token = issueToken({
    key: authority,
    subject: 'agent:s',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const revoke = await fetch(`${s.url}/v1/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token: token.toString() }),
  });
  assert.equal(revoke.status, 200);

  writeFileSync(file, `${readFileSync(file, 'utf8')}remote:\n  url: ${s.url}\n  timeout: 5000\n  fallback: local\n  revocationForm: bloom\n`);
  const guard = new Guard({ config: loadConfig(file), sink: null });
  const remote = guard.verifier as RemoteVerifier;
  t.after(() => remote.close());
  const state = (remote.fallback as Verifier).revocation;
  assert.ok(state instanceof BloomRevocationState, 'the fallback holds the compact form');
  for (let i = 0; i < 200 && state.version < 1; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(state.version >= 1, 'the fallback fetched GET /v1/revocations/bloom');

  const tip = new Verifier({ trusted: [authority.publicKey] }).verifyToken(token).ids.at(-1)!;
  const other = '00'.repeat(16);
  const answer = await fetch(`${s.url}/v1/revocation/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [tip, other] }),
  });
  assert.equal(answer.status, 200);
  assert.deepEqual(((await answer.json()) as { revoked: string[] }).revoked, [tip]);
  const bad = await fetch(`${s.url}/v1/revocation/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: ['XYZ'] }),
  });
  assert.equal(bad.status, 400);
});
