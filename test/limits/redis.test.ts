/**
 * Limits shared by replicas through Redis (docs/spec.md §14.6): three
 * verification services on one Redis enforce one budget exactly under
 * concurrency, a parent and two children share the parent's budget across
 * replicas, a window resets at its end (injected clock), the 3-block charge
 * is one round trip, and Redis down (or lost scripts) never allows a call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { createInvocation, delegate, formatPublicKey, generateKey, issueToken, Verifier, type LocalCall, type Token } from '../../src/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService, type RunningService } from '../../src/server/index.ts';
import { RedisReplayStore } from '../../src/verify/replay-redis.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';
import { REDIS_URL, redisPrefix } from '../server/redis-helper.ts';

const authority = generateKey();
const agent = generateKey();
const kids = [generateKey(), generateKey()];
const grant = { resource: 'bank://acct/*', permissions: ['transfer'] };

async function replicas(t: import('node:test').TestContext, prefix: string, n: number): Promise<RunningService[]> {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-limits-redis-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(
    file,
    `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\naudit:\n  sink: none\n` +
      `tools:\n  pay:\n    resource: bank://acct/{id}\n    operation: transfer\n` +
      `replay:\n  store: redis\n  url: ${REDIS_URL}\n  prefix: "${prefix}"\n  timeout: 10s\n` +
      `server:\n  port: 0\n  maxConnections: 4096\n  maxConnectionsPerAddress: 4096\n`,
  );
  const out: RunningService[] = [];
  for (let i = 0; i < n; i++) out.push(await startService(loadServerConfig(file, {})));
  t.after(() => Promise.all(out.map((s) => s.close())));
  return out;
}

let seq = 0;
function body(token: Token, key: typeof agent, amount: number | string): string {
  const args = { id: '7', amount };
  const callId = `c-${seq++}`;
  const p = createInvocation(token, { key, tool: 'pay', operation: 'transfer', resource: 'bank://acct/7', args, callId, ttl: 300 });
  return JSON.stringify({ token: token.toString(), invocation: p.toString(), tool: 'pay', operation: 'transfer', resource: 'bank://acct/7', args });
}

async function verify(s: RunningService, b: string): Promise<{ allowed?: boolean; code?: string; limit?: { block: number } }> {
  const r = await fetch(`${s.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
  return (await r.json()) as { allowed?: boolean; code?: string };
}

function tally(rs: { allowed?: boolean; code?: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) {
    const k = r.allowed ? 'ok' : (r.code ?? '?');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

test('3 replicas on one Redis: 1,000 concurrent calls against a budget of 100 allow exactly 100', async (t) => {
  const prefix = (await redisPrefix(t))!;
  const servers = await replicas(t, prefix, 3);
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: agent.publicKey,
    ttl: '1h',
    grants: [{ ...grant, budget: { arg: 'amount', total: '100' } }],
  });
  const bodies = Array.from({ length: 1000 }, () => body(token, agent, 1));
  const rs = await Promise.all(bodies.map((b, i) => verify(servers[i % 3]!, b)));
  assert.deepEqual(tally(rs), { ok: 100, ERR_LIMIT: 900 });
  const denied = rs.find((r) => !r.allowed)!;
  assert.equal(denied.limit?.block, 0, 'the service reports which block');
});

test('a parent and two children share the parent budget across replicas (exact decimals)', async (t) => {
  const prefix = (await redisPrefix(t))!;
  const servers = await replicas(t, prefix, 3);
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: agent.publicKey,
    ttl: '1h',
    maxDepth: 2,
    grants: [{ ...grant, budget: { arg: 'amount', total: '0.3' } }],
  });
  const c1 = delegate(token, { key: agent, to: kids[0]!.publicKey, subject: 'agent:c1' });
  const c2 = delegate(token, { key: agent, to: kids[1]!.publicKey, subject: 'agent:c2', budget: { arg: 'amount', total: '0.25' } });
  const steps: [Token, typeof agent, number][] = [
    [c1, kids[0]!, 0.1],
    [c2, kids[1]!, 0.1],
    [token, agent, 0.05],
    [c2, kids[1]!, 0.05],
    [c1, kids[0]!, 0.000001],
  ];
  const rs = [];
  for (const [i, [tk, k, amount]] of steps.entries()) rs.push(await verify(servers[i % 3]!, body(tk, k, amount)));
  assert.deepEqual(
    rs.map((r) => (r.allowed ? 'ok' : `${r.code}@${r.limit?.block}`)),
    ['ok', 'ok', 'ok', 'ok', 'ERR_LIMIT@0'],
  );
  // Concurrent: both children race for what is left of a fresh parent budget of 10 (amount 1 each).
  const t2 = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: agent.publicKey,
    ttl: '1h',
    maxDepth: 2,
    grants: [{ ...grant, budget: { arg: 'amount', total: '10' } }],
  });
  const d1 = delegate(t2, { key: agent, to: kids[0]!.publicKey, subject: 'agent:c1' });
  const d2 = delegate(t2, { key: agent, to: kids[1]!.publicKey, subject: 'agent:c2', rate: { calls: 100, per: '1h' } });
  const race = await Promise.all(Array.from({ length: 60 }, (_, i) => verify(servers[i % 3]!, i % 2 ? body(d1, kids[0]!, 1) : body(d2, kids[1]!, 1))));
  assert.deepEqual(tally(race), { ok: 10, ERR_LIMIT: 50 });
});

test('Redis: a rate window resets at its end (injected clock), and the 3-block charge is one round trip', async (t) => {
  const prefix = (await redisPrefix(t))!;
  const store = new RedisReplayStore({ url: REDIS_URL, prefix });
  t.after(() => store.close());
  await store.ready();
  let now = 1_800_000_000 - (1_800_000_000 % 60);
  const clock = () => now;
  const v = new Verifier({ trusted: [authority.publicKey], clock, replay: new MemoryReplayStore(), limits: store });
  const root = issueToken({
    key: authority,
    subject: 'a',
    holder: agent.publicKey,
    ttl: '1d',
    maxDepth: 3,
    clock,
    grants: [{ ...grant, rate: { calls: 10, per: 60 } }],
  });
  const mid = delegate(root, { key: agent, to: kids[0]!.publicKey, subject: 'b', clock, rate: { calls: 5, per: 60 } });
  const tip = delegate(mid, { key: kids[0]!, to: kids[1]!.publicKey, subject: 'c', clock, rate: { calls: 2, per: 60 } });
  const call = (): LocalCall => ({ tool: 'pay', operation: 'transfer', resource: 'bank://acct/1', args: {}, callId: `w-${seq++}` });
  const before = store.flushes;
  const first = await v.authorize(tip, call());
  assert.equal(first.allowed, true);
  assert.equal(store.flushes - before, 1, 'three counters, one round trip');
  assert.equal((await v.authorize(tip, call())).allowed, true);
  const d = await v.authorize(tip, call());
  assert.deepEqual([d.allowed, d.allowed ? '' : d.code], [false, 'ERR_LIMIT']);
  now += 59;
  assert.equal((await v.authorize(tip, call())).allowed, false, 'the same window');
  now += 1;
  assert.equal((await v.authorize(tip, call())).allowed, true, 'a new window at its start');
});

test('Redis down, or closed, denies with ERR_UNAVAILABLE; a lost script is loaded again without a denial', async (t) => {
  const token = issueToken({ key: authority, subject: 'a', holder: agent.publicKey, ttl: '1h', grants: [{ ...grant, rate: { calls: 10, per: 60 } }] });
  const call = (): LocalCall => ({ tool: 'pay', operation: 'transfer', resource: 'bank://acct/1', args: {}, callId: `d-${seq++}` });
  const down = new RedisReplayStore({ url: 'redis://127.0.0.1:1', timeout: 200 });
  t.after(() => down.close());
  const v = new Verifier({ trusted: [authority.publicKey], replay: new MemoryReplayStore(), limits: down });
  const d = await v.authorize(token, call());
  assert.deepEqual([d.allowed, d.allowed ? '' : d.code], [false, 'ERR_UNAVAILABLE']);

  const prefix = (await redisPrefix(t))!;
  const store = new RedisReplayStore({ url: REDIS_URL, prefix });
  await store.ready();
  const w = new Verifier({ trusted: [authority.publicKey], replay: store });
  assert.equal(w.limits, store, 'the Redis replay store keeps the counters');
  assert.equal((await w.authorize(token, call())).allowed, true);
  // SCRIPT FLUSH (as after a Redis restart): the next charge gets NOSCRIPT and is sent again by text.
  const admin = createClient({ url: REDIS_URL });
  await admin.connect();
  t.after(() => admin.close());
  await admin.sendCommand(['SCRIPT', 'FLUSH']);
  assert.equal((await w.authorize(token, call())).allowed, true);
  await store.close();
  const closed = await w.authorize(token, call());
  assert.deepEqual([closed.allowed, closed.allowed ? '' : closed.code], [false, 'ERR_UNAVAILABLE']);
});
