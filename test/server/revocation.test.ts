import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CapframeError, RevokedError } from '../../src/errors.ts';
import { delegate, formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../../src/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { startService } from '../../src/server/index.ts';
import { verifyAuditLog } from '../../src/audit/index.ts';

const SECRET = 'revocation-admin-secret-0123456789';

test('serve with revocation: snapshot + push stream mounted, /v1/revoke behind the admin secret, revoked tokens denied at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-srvrev-'));
  const authority = generateKey();
  const holder = generateKey();
  const childKey = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
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
  audit:
    path: ./audit.jsonl
  revocation:
    db: ./authority.db
    keyFile: ./authority.key
    maxAge: 5m
`,
  );
  const running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: SECRET }));
  const remote = new RemoteVerifier({ url: running.url, holderKey: holder });
  const childRemote = new RemoteVerifier({ url: running.url, holderKey: childKey });
  const stream = new AbortController();
  try {
    const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
    const a = issueToken({ key: authority, subject: 'agent:a', holder: holder.publicKey, grants, ttl: '1h' });
    const b = issueToken({ key: authority, subject: 'agent:b', holder: holder.publicKey, grants, ttl: '1h', maxDepth: 1 });
    const child = delegate(b, { key: holder, to: childKey.publicKey, subject: 'agent:b-child', ttl: '10m' });
    let n = 0;
    const call = () => ({ tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: 1 }, callId: `c${n++}` });
    assert.equal((await remote.verifyCall(a, call())).allowed, true);
    assert.equal((await remote.verifyCall(b, call())).allowed, true);
    assert.equal((await childRemote.verifyCall(child, call())).allowed, true);

    const snap = await request(running.url + '/v1/revocations');
    assert.equal(snap.statusCode, 200);
    assert.match(await snap.body.text(), /^cfr1\./);
    const v0 = Number(snap.headers['x-capframe-revocation-version']);

    // the push stream: first event on connect
    const sse = await request(running.url + '/v1/revocations/stream', { signal: stream.signal });
    assert.equal(sse.statusCode, 200);
    const events: string[] = [];
    let waiter: (() => void) | null = null;
    sse.body.on('data', (d: Buffer) => {
      events.push(
        ...d
          .toString('utf8')
          .split('\n\n')
          .filter((e) => e.includes('event: snapshot') || e.includes('event: delta')),
      );
      waiter?.();
    });
    sse.body.on('error', () => {});
    const until = async (k: number) => {
      while (events.length < k)
        await new Promise<void>((r) => {
          waiter = r;
        });
    };
    await until(1);

    const revoke = async (body: unknown, auth?: string) => {
      const r = await request(running.url + '/v1/revoke', {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      });
      return { status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> };
    };
    // unauthenticated: 401 and nothing changes
    assert.equal((await revoke({ token: a.toString() })).status, 401);
    assert.equal((await revoke({ token: a.toString() }, 'Bearer nope-nope-nope-nope')).status, 401);
    assert.equal((await remote.verifyCall(a, call())).allowed, true);
    const after401 = await request(running.url + '/v1/revocations');
    assert.equal(Number(after401.headers['x-capframe-revocation-version']), v0);
    await after401.body.dump();

    // bad bodies: 400 with a code, nothing changes
    const bad = await revoke({ token: a.toString(), subject: 'x' }, `Bearer ${SECRET}`);
    assert.deepEqual([bad.status, bad.json.code], [400, 'ERR_INVALID_ARGUMENT']);

    // revoke token a: in force before the 200 returns
    const r1 = await revoke({ token: a.toString(), reason: 'test' }, `Bearer ${SECRET}`);
    assert.equal(r1.status, 200);
    assert.equal(r1.json.changed, true);
    const d = await remote.verifyCall(a, call());
    assert.equal(!d.allowed && d.code, 'ERR_REVOKED');
    assert.ok(!d.allowed && d.error instanceof RevokedError);
    assert.equal((await remote.verifyCall(b, call())).allowed, true);
    await until(2);
    assert.match(events[0]!, /data: cfr1\./, 'the full snapshot on connect');
    assert.match(events[1]!, /event: delta\nid: \d+\ndata: cfd1\./, 'then a delta per change');

    // revoke the subject of b: b and its delegated child are denied
    const r2 = await revoke({ subject: 'agent:b' }, `Bearer ${SECRET}`);
    assert.equal(r2.status, 200);
    const e1 = await remote.verifyCall(b, call());
    const e2 = await childRemote.verifyCall(child, call());
    assert.equal(!e1.allowed && e1.code, 'ERR_REVOKED');
    assert.equal(!e2.allowed && e2.code, 'ERR_REVOKED');
    // same revoke again: nothing changes
    assert.equal((await revoke({ subject: 'agent:b' }, `Bearer ${SECRET}`)).json.changed, false);

    const m = await (await request(running.url + '/metrics')).body.text();
    assert.match(m, /capframe_decisions_total\{decision="deny",code="ERR_REVOKED"\} 3/);
    assert.match(m, /capframe_rejected_requests_total\{reason="unauthorized"\} 2/);
  } finally {
    stream.abort();
    await remote.close();
    await childRemote.close();
    await running.close();
  }
  assert.equal(verifyAuditLog(join(dir, 'audit.jsonl')).ok, true);

  // the signing key must be trusted
  const other = generateKey();
  writeFileSync(join(dir, 'other.key'), serializePrivateKey(other), { mode: 0o600 });
  writeFileSync(
    join(dir, 'bad.yaml'),
    `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\nserver:\n  port: 0\n  revocation:\n    db: ./authority.db\n    keyFile: ./other.key\n`,
  );
  await assert.rejects(
    startService(loadServerConfig(join(dir, 'bad.yaml'), {})),
    (e: CapframeError) => e.code === 'ERR_CONFIG' && /not one of the trusted/.test(e.message),
  );
  rmSync(dir, { recursive: true, force: true });
});
