/** Two service replicas on one PostgreSQL registry: a revocation made on one is in force on the other at once (NOTIFY). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../../src/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { startService } from '../../src/server/index.ts';
import { pgTarget } from '../revocation/pg-helpers.ts';
import { tempDir } from '../revocation/helpers.ts';

const SECRET = 'revocation-admin-secret-0123456789';

test('serve x2 with revocation.db = postgres://…: revoke on replica 1, replica 2 denies without polling', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const dir = tempDir(t);
  const authority = generateKey();
  const holder = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  // pollInterval 0: only LISTEN/NOTIFY can carry the change to the other replica.
  // A persistent replay store: with the memory store a fresh service refuses proofs issued before
  // its start plus the clock skew (it cannot know what the process it replaced accepted).
  writeFileSync(
    join(dir, 'capframe.yaml'),
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
  revocation:
    db: ${pg.url}
    keyFile: ./authority.key
    maxAge: 5m
    pollInterval: 0
`,
  );
  const cfg = loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: SECRET });
  const [r1, r2] = await Promise.all([startService(cfg), startService(cfg)]);
  t.after(async () => {
    await r1.close();
    await r2.close();
  });
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: holder.publicKey,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    ttl: '1h',
  });
  let n = 0;
  const call = () => ({ tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: 1 }, callId: `c${n++}` });
  const v2 = new RemoteVerifier({ url: r2.url, holderKey: holder });
  t.after(() => v2.close());
  assert.equal((await v2.verifyCall(token, call())).allowed, true);

  const res = await request(`${r1.url}/v1/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token: token.toString(), reason: 'test' }),
  });
  assert.equal(res.statusCode, 200, await res.body.text());
  const started = Date.now();
  let d = await v2.verifyCall(token, call());
  while (d.allowed && Date.now() - started < 5000) {
    await new Promise((r) => setTimeout(r, 10));
    d = await v2.verifyCall(token, call());
  }
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  assert.equal(r2.revocation!.state.version, 1);
});
