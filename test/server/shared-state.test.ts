/**
 * What an attacker found between verifiers: replay after a restart of the
 * service, two verifiers each accepting one proof, a local fallback that
 * ignored revocation and kept a replay store of its own, and a service that
 * decided with the proof's own operation and resource.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { CapframeError, createInvocation, formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../../src/index.ts';
import { Guard, guardTools, loadConfig } from '../../src/langchain/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { startService, type RunningService } from '../../src/server/index.ts';
import type { Verifier } from '../../src/verify/verifier.ts';
import type { RevocationState } from '../../src/revocation/index.ts';
import type { RedisReplayStore } from '../../src/verify/replay-redis.ts';
import { REDIS_URL, redisPrefix } from './redis-helper.ts';

const authority = generateKey();
const holder = generateKey();
const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
const token = issueToken({ key: authority, subject: 'agent:s', holder: holder.publicKey, ttl: '1h', grants });
const SECRET = 'shared-state-admin-secret-0123';

function setup(replay: string, extra = ''): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-shared-'));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(
    file,
    `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\naudit:\n  sink: none\ntools:\n  get_ticket:\n    resource: tickets://acme/{id}\n    operation: read\n${replay}server:\n  port: 0\n${extra}`,
  );
  return { dir, file };
}

function body(i: number, callId = `call-${i}`, fields: Record<string, unknown> = {}): string {
  const args = { id: String(i) };
  const p = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args, callId });
  return JSON.stringify({
    token: token.toString(),
    invocation: p.toString(),
    tool: 'get_ticket',
    operation: 'read',
    resource: `tickets://acme/${i}`,
    args,
    ...fields,
  });
}

async function verify(s: RunningService, b: string): Promise<{ status: number; json: { allowed?: boolean; code?: string } }> {
  const r = await fetch(`${s.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
  return { status: r.status, json: (await r.json()) as { allowed?: boolean; code?: string } };
}

test('capframe serve restarted on a SQLite replay store refuses the request it allowed before', async (t) => {
  const { dir, file } = setup('replay:\n  store: sqlite\n  path: ./replay.db\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const b = body(1);
  const first = await startService(loadServerConfig(file, {}));
  assert.equal((await verify(first, b)).json.allowed, true);
  await first.close();
  const second = await startService(loadServerConfig(file, {}));
  t.after(() => second.close());
  const again = await verify(second, b);
  assert.deepEqual([again.json.allowed, again.json.code], [false, 'ERR_REPLAY']);
  assert.equal((await verify(second, body(2))).json.allowed, true);
});

test('capframe serve restarted on the memory store refuses proofs issued before it started plus the skew', async (t) => {
  const { dir, file } = setup('');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const b = body(3);
  const first = await startService(loadServerConfig(file, {}));
  await first.close();
  const second = await startService(loadServerConfig(file, {}));
  t.after(() => second.close());
  const r = await verify(second, b);
  assert.deepEqual([r.json.allowed, r.json.code], [false, 'ERR_REPLAY']);
});

test('two services sharing a Redis replay store: each proof sent to both at once is accepted once', async (t) => {
  const prefix = await redisPrefix(t);
  if (!prefix) return;
  const { dir, file } = setup(`replay:\n  store: redis\n  url: ${REDIS_URL}\n  prefix: "${prefix}"\n`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startService(loadServerConfig(file, {}));
  const b = await startService(loadServerConfig(file, {}));
  t.after(() => Promise.all([a.close(), b.close()]));
  for (let i = 0; i < 50; i++) {
    const req = body(1000 + i);
    const [x, y] = await Promise.all([verify(a, req), verify(b, req)]);
    assert.equal(Number(x.json.allowed === true) + Number(y.json.allowed === true), 1, `proof ${i}`);
  }
  // and through the batch route: one request of 32, one pipeline, each proof once across both
  const reqs = Array.from({ length: 32 }, (_, i) => JSON.parse(body(2000 + (i % 16), `b-${i % 16}`)));
  const post = (s: RunningService) =>
    fetch(`${s.url}/v1/verify/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: reqs }) }).then(
      (r) => r.json() as Promise<{ decisions: { allowed: boolean }[] }>,
    );
  const flushes = (s: RunningService) => (s.verifier.replay as RedisReplayStore).flushes;
  const before = [flushes(a), flushes(b)];
  const [ra, rb] = await Promise.all([post(a), post(b)]);
  const allowed = [...ra.decisions, ...rb.decisions].filter((d) => d.allowed).length;
  assert.equal(allowed, 16);
  assert.deepEqual([flushes(a) - before[0]!, flushes(b) - before[1]!], [1, 1], 'a batch request of 32 is one round trip to Redis');
});

test('two services on one SQLite replay file: each proof accepted once', async (t) => {
  const { dir, file } = setup('replay:\n  store: sqlite\n  path: ./replay.db\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startService(loadServerConfig(file, {}));
  const b = await startService(loadServerConfig(file, {}));
  t.after(() => Promise.all([a.close(), b.close()]));
  for (let i = 0; i < 20; i++) {
    const req = body(3000 + i);
    const [x, y] = await Promise.all([verify(a, req), verify(b, req)]);
    assert.equal(Number(x.json.allowed === true) + Number(y.json.allowed === true), 1, `proof ${i}`);
  }
});

test("POST /v1/verify needs the caller's operation and resource; it never decides with the proof's own", async (t) => {
  const { dir, file } = setup('replay:\n  store: sqlite\n  path: ./replay.db\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = await startService(loadServerConfig(file, {}));
  t.after(() => s.close());
  for (const drop of ['operation', 'resource']) {
    const b = JSON.parse(body(4000, `drop-${drop}`));
    delete b[drop];
    const r = await verify(s, JSON.stringify(b));
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'ERR_MALFORMED');
    const batch = await fetch(`${s.url}/v1/verify/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [b] }),
    });
    const d = ((await batch.json()) as { decisions: { allowed: boolean; code: string }[] }).decisions[0]!;
    assert.deepEqual([d.allowed, d.code], [false, 'ERR_MALFORMED']);
  }
  const other = await verify(s, body(4001, 'other', { resource: 'tickets://acme/9999' }));
  assert.deepEqual([other.json.allowed, other.json.code], [false, 'ERR_INVOCATION_MISMATCH']);
});

test("remote.fallback: local keeps the service's revocations and replay store: revoked stays denied with the service down", async (t) => {
  const { dir, file } = setup(
    'replay:\n  store: sqlite\n  path: ./replay.db\n',
    '  revocation:\n    db: ./authority.db\n    keyFile: ./authority.key\n    maxAge: 5m\n',
  );
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const s = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  let stopped = false;
  t.after(() => (stopped ? undefined : s.close()));
  const other = issueToken({ key: authority, subject: 'agent:other', holder: holder.publicKey, ttl: '1h', grants });
  writeFileSync(file, `${(await import('node:fs')).readFileSync(file, 'utf8')}remote:\n  url: ${s.url}\n  timeout: 500\n  fallback: local\n`);
  const guard = new Guard({ config: loadConfig(file), sink: null });
  const remote = guard.verifier as RemoteVerifier;
  t.after(() => remote.close());
  const state = (remote.fallback as Verifier).revocation as RevocationState;
  const [get] = guardTools(
    [tool(async (a) => `ticket ${JSON.stringify(a)}`, { name: 'get_ticket', description: 'get', schema: z.object({ id: z.string() }) })],
    guard,
  );
  const callWith = async (tok: typeof token, id: string, callId: string) => {
    const m = (await get!.invoke(
      { type: 'tool_call', id: callId, name: 'get_ticket', args: { id } },
      { configurable: { capframe: { token: tok, holderKey: holder } } },
    )) as ToolMessage;
    return m.status === 'error' ? (String(m.content).match(/\((ERR_[A-Z_]+)\)/)?.[1] ?? 'error') : 'ok';
  };
  assert.equal(await callWith(token, '1', 'up-1'), 'ok');
  assert.equal(await callWith(other, '2', 'up-2'), 'ok');
  // revoke through the service; the fallback learns it while the service is up
  const v0 = state.version;
  const r = await fetch(`${s.url}/v1/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token: token.toString() }),
  });
  assert.equal(r.status, 200);
  for (let i = 0; i < 100 && state.version <= v0; i++) await new Promise((res) => setTimeout(res, 50));
  assert.ok(state.version > v0, 'the fallback received the new revocation list');
  await s.close();
  stopped = true;
  // service down: the local fallback decides
  assert.equal(await callWith(token, '3', 'down-1'), 'ERR_REVOKED');
  assert.equal(await callWith(other, '4', 'down-2'), 'ok');
  // a call the service already accepted is refused by the fallback (one replay store)
  assert.equal(await callWith(other, '2', 'up-2'), 'ERR_REPLAY');
});

test('remote.fallback: local with a replay store of its own refuses to start', async (t) => {
  const { dir, file } = setup('');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(file, `${(await import('node:fs')).readFileSync(file, 'utf8')}remote:\n  url: http://127.0.0.1:9\n  fallback: local\n  revocation: none\n`);
  assert.throws(
    () => new Guard({ config: loadConfig(file), sink: null }),
    (e: CapframeError) => e.code === 'ERR_CONFIG' && /replay store/.test(e.message),
  );
});
