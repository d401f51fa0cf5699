/**
 * Authority suite: the token service of `capframe serve` (server.authority)
 * on 127.0.0.1, client and service in this process.
 *
 *   renewals_per_s        token renewals per second (POST /v1/tokens: the agent signs a fresh
 *                         request, the service verifies it, claims it in the replay store,
 *                         looks the agent up in SQLite, signs a token and writes an audit line),
 *                         `concurrency` requests in flight from as many enrolled agents
 *   renewal_p50_ms        one renewal at a time, median round trip
 *   renewal_p99_ms        same, 99th percentile
 *
 * The machine's 1-minute load average is reported at the start and the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKey, serializePrivateKey, type PrivateKey } from '../src/index.ts';
import { loadServerConfig } from '../src/config/server.ts';
import { startService } from '../src/server/index.ts';
import { AuthorityClient } from '../src/remote/index.ts';
import { percentile, round } from './stats.ts';
import type { BenchContext, BenchResult, Suite } from './suite.ts';

const SECRET = 'bench-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:bench';

async function run(ctx: BenchContext): Promise<BenchResult> {
  const loadStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-authority-'));
  const authority = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(
    join(dir, 'capframe.yaml'),
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
server:
  port: 0
  maxConnectionsPerAddress: 1024
  audit:
    path: ./audit.jsonl
  authority:
    audience: ${AUDIENCE}
    keyFile: ./authority.key
    db: ./enrolments.db
    profiles:
      worker:
        subject: "agent:worker:*"
        ttl: 5m
        grants:
          - resource: "tickets://acme/*"
            permissions: [read, comment]
`,
  );
  const running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: SECRET }));
  const concurrency = 16;
  const client = new AuthorityClient({ url: running.url, audience: AUDIENCE, connections: concurrency });
  try {
    const agents: PrivateKey[] = [];
    for (let i = 0; i < concurrency; i++) {
      const key = generateKey();
      await client.enrol({ holderKey: key, profile: 'worker', subject: `agent:worker:${i}`, adminSecret: SECRET });
      agents.push(key);
    }
    const renew = (key: PrivateKey) => client.obtain({ holderKey: key, profile: 'worker' });
    // Warm-up.
    for (let i = 0; i < (ctx.quick ? 20 : 200); i++) await renew(agents[i % concurrency]!);

    // Latency: one at a time.
    const lat: number[] = [];
    for (let i = 0; i < (ctx.quick ? 100 : 1_000); i++) {
      const t = process.hrtime.bigint();
      await renew(agents[i % concurrency]!);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    // Throughput: each agent renews back to back, all at once.
    const perAgent = ctx.quick ? 20 : 250;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      agents.map(async (key) => {
        for (let i = 0; i < perAgent; i++) await renew(key);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const total = perAgent * concurrency;
    const perS = total / seconds;
    const loadEnd = loadavg()[0]!;
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    return {
      metrics: {
        renewals_per_s: round(perS, 1),
        renewal_p50_ms: round(p50),
        renewal_p99_ms: round(p99),
        renewals_measured: total,
        concurrency,
        load_start: loadStart,
        load_end: loadEnd,
      },
      rows: [
        { name: `renewals_per_s (${concurrency} agents in flight, ${total} renewals, audit on)`, value: `${round(perS, 1)} /s` },
        { name: 'renewal round trip p50 (one at a time)', value: `${round(p50)} ms` },
        { name: 'renewal round trip p99 (one at a time)', value: `${round(p99)} ms` },
        { name: 'load average (1 min) start / end', value: `${loadStart.toFixed(2)} / ${loadEnd.toFixed(2)}` },
      ],
    };
  } finally {
    await client.close();
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const authoritySuite: Suite = { name: 'authority', default: true, run };
