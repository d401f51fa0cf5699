/**
 * Three `capframe serve` replicas sharing one Redis replay store and one
 * PostgreSQL revocation registry (a schema of its own, dropped afterwards;
 * NOTIFY carries a revocation to every replica), each in its own process.
 * Without PostgreSQL the replicas share a SQLite registry file instead (they
 * then learn of a change by polling) and the output says so:
 *
 *   cluster_double_accepts   the same proof sent to all 3 at once, 1,000 times: how many times
 *                            more than one replica accepted it (must be 0); cluster_zero_accepts
 *                            counts proofs none accepted (must be 0 too)
 *   cluster_scaling_ratio    verifications/s of 3 replicas over 1 (same client, same machine:
 *                            on 2 cores shared with the client this measures contention, honestly)
 *   redis_replay_claim_us    one claim in pipelined batches of 32, per claim, beside
 *                            memory_replay_claim_us (the in-process table) and
 *                            redis_replay_claim_single_us (one claim per round trip)
 *   cluster_kill9_reaccepts  replica 2 killed with SIGKILL under load, restarted; every proof
 *                            accepted before is sent again to all three: accepted again (must be 0)
 *   cluster_revocation_ms_p50/_max  a token revoked on replica 1: time until replicas 2 and 3 deny it
 *
 * Needs Redis on 127.0.0.1:6379 (CAPFRAME_REDIS_URL); without it the suite fails saying so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type postgresModule from 'postgres';
import { createInvocation, formatPublicKey, generateKey, issueToken, serializePrivateKey, type PrivateKey, type Token } from '../src/index.ts';
import { spawnService, type ChildService } from '../src/server/child.ts';
import { RedisReplayStore } from '../src/verify/replay-redis.ts';
import { MemoryReplayStore } from '../src/verify/replay.ts';
import { percentile, round } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';
import { benchPrefix, deleteRedisKeys, phase, REDIS_URL, redisAnswers } from './support.ts';
import { postgresUrl } from '../scripts/services.mjs';

const SECRET = 'cluster-bench-admin-secret-0123456789';
const GRANTS = [{ resource: 'tickets://acme/*', permissions: ['read'] }];

interface Replica {
  service: ChildService;
  pool: Pool;
}

function body(token: Token, holder: PrivateKey, id: number, callId: string): string {
  const args = { id };
  const proof = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${id}`, args, callId, ttl: 300 });
  return JSON.stringify({
    token: token.toString(),
    invocation: proof.toString(),
    tool: 'get_ticket',
    operation: 'read',
    resource: `tickets://acme/${id}`,
    args,
  });
}

/** POST /v1/verify: true when allowed; false for a denial or a replica that does not answer. */
async function verify(r: Replica, b: string): Promise<boolean> {
  try {
    const res = await r.pool.request({
      path: '/v1/verify',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: b,
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await res.body.text();
    return res.statusCode === 200 && text.startsWith('{"allowed":true');
  } catch {
    return false;
  }
}

/** POST /v1/verify/batch of up to 64 bodies: how many were allowed (0 when the replica does not answer). */
async function verifyBatch(r: Replica, bodies: string[]): Promise<number> {
  try {
    const res = await r.pool.request({
      path: '/v1/verify/batch',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"requests":[${bodies.join(',')}]}`,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const json = (await res.body.json()) as { decisions?: { allowed: boolean }[] };
    return (json.decisions ?? []).filter((d) => d.allowed).length;
  } catch {
    return 0;
  }
}

/** Runs `n` tasks with `inFlight` at a time; returns seconds. */
async function pump(n: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

const requireCjs = createRequire(import.meta.url);

async function dropSchema(base: string, schema: string): Promise<void> {
  const postgres = requireCjs('postgres') as typeof postgresModule;
  const sql = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

export async function runCluster(ctx: BenchContext): Promise<BenchResult> {
  if (!(await redisAnswers())) throw new Error(`Redis is not answering at ${REDIS_URL}: the cluster suite needs it (bash .ci/run starts it)`);
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({ key: authority, subject: 'agent:cluster', holder: holder.publicKey, ttl: '1h', grants: GRANTS });
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cluster-'));
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const prefix = benchPrefix('cluster');
  const pgBase = await postgresUrl();
  const pgSchema = `capframe_bench_${randomBytes(6).toString('hex')}`;
  const registry = pgBase ? `${pgBase}?schema=${pgSchema}` : join(dir, 'authority.db');
  const yaml = `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
replay:
  store: redis
  url: ${REDIS_URL}
  prefix: "${prefix}"
  timeout: 1s
server:
  host: 127.0.0.1
  port: 0
  revocation:
    db: ${registry}
    keyFile: ${join(dir, 'authority.key')}
    maxAge: 5m
`;
  const env = { CAPFRAME_ADMIN_SECRET: SECRET };
  const start = async (): Promise<Replica> => {
    const service = await spawnService(yaml, env);
    return { service, pool: new Pool(service.url, { connections: 16, pipelining: 1, keepAliveTimeout: 10_000 }) };
  };
  const replicas: Replica[] = [];
  const failed: Record<string, string> = {};
  const metrics: Record<string, number> = {};
  const rows: BenchRow[] = [];
  try {
    // One at a time: the first start creates the registry schema.
    for (let i = 0; i < 3; i++) replicas.push(await start());
    let serial = 0;

    await phase(failed, 'double_accepts', async () => {
      const n = ctx.quick ? 100 : 1_000;
      let double = 0;
      let none = 0;
      for (let i = 0; i < n; i++) {
        const b = body(token, holder, i, `same-${i}`);
        const answers = await Promise.all(replicas.map((r) => verify(r, b)));
        const accepted = answers.filter(Boolean).length;
        if (accepted > 1) double++;
        if (accepted === 0) none++;
      }
      metrics.cluster_double_accepts = double;
      metrics.cluster_zero_accepts = none;
      metrics.cluster_same_proof_sends = n;
      rows.push({ name: 'cluster_double_accepts', value: `${double} of ${n}`, target: '0', ok: double === 0 });
      rows.push({ name: 'cluster_zero_accepts', value: `${none} of ${n}`, target: '0', ok: none === 0 });
    });

    await phase(failed, 'scaling', async () => {
      const n = ctx.quick ? 1_500 : 12_000;
      const run = async (targets: Replica[], tag: string) => {
        const bodies = Array.from({ length: n }, (_, i) => body(token, holder, 100_000 + serial++, `${tag}-${i}`));
        const warm = Math.min(300, n >> 3);
        let bad = 0;
        await pump(warm, 32, async (i) => {
          if (!(await verify(targets[i % targets.length]!, bodies[i]!))) bad++;
        });
        const seconds = await pump(n - warm, 64, async (i) => {
          if (!(await verify(targets[i % targets.length]!, bodies[warm + i]!))) bad++;
        });
        if (bad > 0) throw new Error(`${bad} verifications were not allowed in the ${tag} run`);
        return (n - warm) / seconds;
      };
      const one = await run([replicas[0]!], 'one');
      const three = await run(replicas, 'three');
      metrics.cluster_verifications_per_s_1 = Math.round(one);
      metrics.cluster_verifications_per_s_3 = Math.round(three);
      metrics.cluster_scaling_ratio = round(three / one);
      rows.push({ name: 'cluster verifications/s, 1 replica / 3 replicas', value: `${one.toFixed(0)} / ${three.toFixed(0)}` });
      rows.push({ name: 'cluster_scaling_ratio', value: (three / one).toFixed(3), target: 'reported (2 cores shared with the client)' });
    });

    await phase(failed, 'claim_cost', async () => {
      const n = ctx.quick ? 3_200 : 32_000;
      const now = Date.now() / 1000;
      const store = new RedisReplayStore({ url: REDIS_URL, prefix: prefix + 'claim:', timeout: 2000 });
      try {
        await store.ready();
        let t0 = performance.now();
        for (let i = 0; i < n; i += 32) {
          await Promise.all(Array.from({ length: 32 }, (_, k) => store.checkAndRecord(`p-${i + k}`, now + 60, now)));
        }
        const pipelined = ((performance.now() - t0) * 1000) / n;
        const single = Math.min(2_000, n / 4);
        t0 = performance.now();
        for (let i = 0; i < single; i++) await store.checkAndRecord(`s-${i}`, now + 60, now);
        const one = ((performance.now() - t0) * 1000) / single;
        const mem = new MemoryReplayStore(4 * n);
        t0 = performance.now();
        for (let i = 0; i < n; i++) mem.checkAndRecord(`m-${i}`, now + 60, now);
        const memUs = ((performance.now() - t0) * 1000) / n;
        metrics.redis_replay_claim_us = round(pipelined);
        metrics.redis_replay_claim_single_us = round(one);
        metrics.memory_replay_claim_us = round(memUs);
        rows.push({ name: 'redis_replay_claim_us (batches of 32, pipelined)', value: `${pipelined.toFixed(2)} us` });
        rows.push({ name: 'redis_replay_claim_single_us (one per round trip)', value: `${one.toFixed(1)} us` });
        rows.push({ name: 'memory_replay_claim_us', value: `${memUs.toFixed(2)} us` });
      } finally {
        await store.close();
      }
    });

    await phase(failed, 'kill9', async () => {
      const n = ctx.quick ? 600 : 3_000;
      const bodies = Array.from({ length: n }, (_, i) => body(token, holder, 200_000 + serial++, `kill-${i}`));
      const accepted: string[] = [];
      let killed = false;
      await pump(n, 24, async (i) => {
        if (i === Math.floor(n / 3) && !killed) {
          killed = true;
          replicas[1]!.service.child.kill('SIGKILL');
        }
        if (await verify(replicas[i % 3]!, bodies[i]!)) accepted.push(bodies[i]!);
      });
      await replicas[1]!.pool.destroy();
      await replicas[1]!.service.stop();
      replicas[1] = await start();
      let again = 0;
      for (let i = 0; i < accepted.length; i += 32) {
        const chunk = accepted.slice(i, i + 32);
        const counts = await Promise.all(replicas.map((r) => verifyBatch(r, chunk)));
        again += counts.reduce((a, b) => a + b, 0);
      }
      metrics.cluster_kill9_accepted = accepted.length;
      metrics.cluster_kill9_reaccepts = again;
      rows.push({ name: 'cluster_kill9_reaccepts', value: `${again} (of ${accepted.length} accepted, sent to all 3)`, target: '0', ok: again === 0 });
    });

    await phase(failed, 'revocation', async () => {
      const samples: number[] = [];
      const n = ctx.quick ? 3 : 10;
      for (let k = 0; k < n; k++) {
        const t = issueToken({ key: authority, subject: `agent:revoked-${k}`, holder: holder.publicKey, ttl: '1h', grants: GRANTS });
        const t0 = performance.now();
        const res = await replicas[0]!.pool.request({
          path: '/v1/revoke',
          method: 'POST',
          headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: t.toString() }),
        });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`revoke answered ${res.statusCode}`);
        const denied = [false, false];
        for (let i = 0; ; i++) {
          for (const j of [0, 1]) if (!denied[j]) denied[j] = !(await verify(replicas[j + 1]!, body(t, holder, 1, `rv-${k}-${j}-${i}`)));
          if (denied[0] && denied[1]) break;
          if (performance.now() - t0 > 30_000) throw new Error('a revocation did not reach the other replicas within 30 s');
          await sleep(5);
        }
        samples.push(performance.now() - t0);
      }
      metrics.cluster_revocation_ms_p50 = round(percentile(samples, 50));
      metrics.cluster_revocation_ms_max = round(Math.max(...samples));
      rows.push({
        name: 'cluster_revocation_ms p50 / max',
        value: `${percentile(samples, 50).toFixed(0)} / ${Math.max(...samples).toFixed(0)} ms`,
        target: 'p50 <= 200 ms',
        ok: percentile(samples, 50) <= 200,
      });
    });
  } finally {
    await Promise.all(
      replicas.map(async (r) => {
        await r.pool.destroy().catch(() => {});
        await r.service.stop();
      }),
    );
    await deleteRedisKeys(prefix).catch(() => {});
    if (pgBase) await dropSchema(pgBase, pgSchema).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [k, v] of Object.entries(failed)) rows.push({ name: `phase ${k}`, value: `FAILED: ${v}` });
  metrics.cluster_failed_phases = Object.keys(failed).length;
  metrics.cluster_registry_postgres = pgBase ? 1 : 0;
  process.stdout.write(
    `\ncluster: 3 replicas sharing Redis replay (${REDIS_URL}) and ${pgBase ? 'a PostgreSQL revocation registry (NOTIFY)' : 'a SQLite revocation registry file (no PostgreSQL answered: polling)'}\n`,
  );
  return { metrics, rows };
}

export const clusterSuite: Suite = {
  name: 'cluster',
  default: false,
  run: runCluster,
};
