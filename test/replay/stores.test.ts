/**
 * The replay stores behind one interface: SQLite (persisted, shared on a
 * host) and Redis (shared by every verifier; one round trip per batch; down
 * or slow is a denial, never an allow).
 */
import { test } from 'node:test';
import { verifyInvocationSync } from '../../src/verify/sync.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapframeError, createInvocation, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { SqliteReplayStore } from '../../src/verify/replay-sqlite.ts';
import { RedisReplayStore } from '../../src/verify/replay-redis.ts';
import { openReplayStore } from '../../src/verify/replay-open.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';
import { REDIS_URL, redisPrefix } from '../server/redis-helper.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:r',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});
const call = (i: number) => ({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i } });
const proof = (i: number, callId = `c-${i}`) => createInvocation(token, { key: holder, ...call(i), callId });
const expected = (i: number) => ({ tool: 'get_ticket', args: { id: i }, operation: 'read', resource: `tickets://acme/${i}` });
const now = () => Date.now() / 1000;

test('sqlite: a claim survives reopening the file, is shared by two handles, and frees after expiry', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'replay.db');
  const a = new SqliteReplayStore({ path });
  assert.equal(a.persistent, true);
  assert.equal(a.checkAndRecord('k1', 2000, 1000), true);
  assert.equal(a.checkAndRecord('k1', 2000, 1000), false);
  const b = new SqliteReplayStore({ path });
  assert.equal(b.checkAndRecord('k1', 2000, 1500), false, 'a second handle sees the claim');
  assert.equal(b.checkAndRecord('k2', 2000, 1500), true);
  assert.equal(a.checkAndRecord('k2', 2000, 1500), false);
  a.close();
  b.close();
  const c = new SqliteReplayStore({ path });
  assert.equal(c.checkAndRecord('k1', 3000, 1999), false, 'reopened: still refused');
  assert.equal(c.checkAndRecord('k1', 3000, 2001), true, 'expired: usable again');
  c.close();
  assert.throws(
    () => c.checkAndRecord('k3', 3000, 2001),
    (e: CapframeError) => e.code === 'ERR_UNAVAILABLE',
  );
});

test('sqlite: a verifier restarted on the same file refuses the proof it accepted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = proof(1);
  const v1 = new Verifier({ trusted: [authority.publicKey], replay: openReplayStore({ store: 'sqlite', path: join(dir, 'r.db') }) });
  const d1 = v1[verifyInvocationSync](token, p, expected(1));
  assert.ok(!(d1 instanceof Promise), 'the SQLite store keeps the synchronous path');
  assert.equal(d1.allowed, true);
  (v1.replay as SqliteReplayStore).close();
  const v2 = new Verifier({ trusted: [authority.publicKey], replay: openReplayStore({ store: 'sqlite', path: join(dir, 'r.db') }) });
  const d2 = await v2.verifyInvocation(token, p, expected(1));
  assert.equal(!d2.allowed && d2.code, 'ERR_REPLAY');
  (v2.replay as SqliteReplayStore).close();
});

test('memory: a verifier without a persistent store refuses proofs issued before it started plus the skew', async () => {
  const p = proof(2);
  const v = new Verifier({ trusted: [authority.publicKey], replay: new MemoryReplayStore(), issuedAfter: now() + 30 });
  const d = await v.verifyInvocation(token, p, expected(2));
  assert.equal(!d.allowed && d.code, 'ERR_REPLAY');
  const fresh = new Verifier({ trusted: [authority.publicKey], issuedAfter: now() - 60 });
  assert.equal((await fresh.verifyInvocation(token, p, expected(2))).allowed, true);
});

test('redis: claims of one turn are one round trip; two verifiers sharing it accept a proof once', async (t) => {
  const prefix = await redisPrefix(t);
  if (!prefix) return;
  const a = new RedisReplayStore({ url: REDIS_URL, prefix });
  const b = new RedisReplayStore({ url: REDIS_URL, prefix });
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([a.ready(), b.ready()]);
  const t0 = now();
  const before = a.flushes;
  const answers = await Promise.all(Array.from({ length: 32 }, (_, i) => a.checkAndRecord(`key-${i % 16}`, t0 + 60, t0)));
  assert.equal(a.flushes - before, 1, 'a batch of 32 is one pipeline');
  assert.deepEqual(
    answers,
    Array.from({ length: 32 }, (_, i) => i < 16),
  );
  const va = new Verifier({ trusted: [authority.publicKey], replay: a });
  const vb = new Verifier({ trusted: [authority.publicKey], replay: b });
  for (let i = 0; i < 20; i++) {
    const p = proof(100 + i);
    const [x, y] = await Promise.all([va.verifyInvocation(token, p, expected(100 + i)), vb.verifyInvocation(token, p, expected(100 + i))]);
    assert.equal(Number(x.allowed) + Number(y.allowed), 1, `proof ${i} accepted exactly once`);
    const loser = x.allowed ? y : x;
    assert.equal(!loser.allowed && loser.code, 'ERR_REPLAY');
  }
});

test('redis: down or slower than the deadline is ERR_UNAVAILABLE, never an allow', async (t) => {
  const prefix = await redisPrefix(t);
  if (!prefix) return;
  // Down: nothing listens on the port.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  const down = new RedisReplayStore({ url: `redis://127.0.0.1:${port}`, prefix, timeout: 200 });
  t.after(() => down.close());
  const vd = new Verifier({ trusted: [authority.publicKey], replay: down });
  const dd = await vd.verifyInvocation(token, proof(200), expected(200));
  assert.equal(!dd.allowed && dd.code, 'ERR_UNAVAILABLE');

  // Slow: a proxy in front of the real Redis that holds every answer for 400 ms.
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (d) => setTimeout(() => client.write(d), 400));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => proxy.close(r));
  });
  const slow = new RedisReplayStore({ url: `redis://127.0.0.1:${(proxy.address() as { port: number }).port}`, prefix, timeout: 100 });
  t.after(() => slow.close());
  await slow.ready().catch(() => {});
  const vs = new Verifier({ trusted: [authority.publicKey], replay: slow });
  const ds = await vs.verifyInvocation(token, proof(201), expected(201));
  assert.equal(!ds.allowed && ds.code, 'ERR_UNAVAILABLE');
  // The claim may have reached Redis late: the proof stays refused (fail closed), never allowed.
  await new Promise((r) => setTimeout(r, 500));
  const fast = new RedisReplayStore({ url: REDIS_URL, prefix });
  t.after(() => fast.close());
  const again = await new Verifier({ trusted: [authority.publicKey], replay: fast }).verifyInvocation(token, proof(201), expected(201));
  assert.equal(again.allowed, false);
});

test('config: the replay: section is validated with file:line messages; a sqlite path resolves against the config', async () => {
  const { parseConfig } = await import('../../src/config/parse.ts');
  const head = `trust:\n  authorities:\n    - ${(await import('../../src/index.ts')).formatPublicKey(authority.publicKey)}\n`;
  const bad = (replay: string, re: RegExp) =>
    assert.throws(
      () => parseConfig(head + replay, { file: 'c.yaml' }),
      (e: CapframeError) => e.code === 'ERR_CONFIG' && re.test(e.message),
    );
  bad('replay:\n  store: redis\n', /^c\.yaml:\d+ replay\.url: store redis needs a url/);
  bad('replay:\n  store: sqlite\n', /replay\.path: store sqlite needs a path/);
  bad('replay:\n  store: sqlite\n  path: ./r.db\n  url: redis://x\n', /^c\.yaml:7 replay\.url: only for store redis/);
  bad('replay:\n  store: mongo\n', /replay\.store: expected memory, sqlite or redis/);
  bad('replay:\n  store: redis\n  url: http://x\n', /replay\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
  const cfg = parseConfig(head + 'replay:\n  store: sqlite\n  path: ./r.db\n  timeout: 2s\n', { file: 'c.yaml', baseDir: '/srv/capframe' });
  assert.deepEqual(cfg.replay, { store: 'sqlite', path: '/srv/capframe/r.db', timeout: 2000 });
});
