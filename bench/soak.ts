/**
 * Soak test of the verification service (loopback only, bounded in time):
 *
 *   npm run soak [-- --seconds 60 --rate 400 --clients 8]
 *
 * The service runs in its own process (capframe serve's code, audit log on).
 * Concurrent keep-alive clients (RemoteVerifier) send valid signed calls at a
 * fixed rate for the whole run; every few seconds a burst of hostile traffic
 * hits the same service: malformed JSON, wrong types, unknown fields, deeply
 * nested arguments, bodies over the size cap (declared and streamed),
 * garbage bytes instead of HTTP, slow-header and slow-body connections, and
 * connections opened then dropped. Pass criteria: every valid call is
 * allowed, the service process is alive and healthy at the end, its audit
 * log verifies, and its RSS at the end stays within bounds of the start.
 * Exit status 0 on pass, 1 on failure. A short run is test/server/soak-short.test.ts.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { formatPublicKey, generateKey, issueToken } from '../src/index.ts';
import { RemoteVerifier } from '../src/remote/client.ts';
import { spawnService } from '../src/server/child.ts';
import { verifyAuditLog } from '../src/audit/verify.ts';

export interface SoakOptions {
  readonly seconds: number;
  /** Valid calls per second, all clients together. */
  readonly rate: number;
  readonly clients: number;
  /** Seconds between hostile bursts. */
  readonly burstEvery: number;
  /** Hostile requests per burst (each kind gets a share). */
  readonly burstSize: number;
  /** The service's header and whole-request deadlines, ms. Default 2 000 and 4 000. */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface SoakResult {
  readonly seconds: number;
  readonly valid: { readonly sent: number; readonly allowed: number; readonly failed: number; readonly failures: readonly string[] };
  readonly hostile: { readonly sent: number; readonly answered4xx: number; readonly cutOff: number; readonly other: number };
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly rssStart: number;
  readonly rssEnd: number;
  readonly rssPeak: number;
  readonly alive: boolean;
  readonly healthy: boolean;
  readonly auditOk: boolean;
  readonly auditLines: number;
  readonly pass: boolean;
}

function raw(port: number, payload: string | Buffer, opts: { hold?: number; drip?: string[] } = {}): Promise<'4xx' | 'cut' | 'other'> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(/^HTTP\/1\.1 4\d\d/.test(data) ? '4xx' : data === '' ? 'cut' : 'other');
    };
    const timer = setTimeout(finish, opts.hold ?? 3_000);
    s.on('data', (d) => {
      data += d.toString('latin1');
      if (/\r\n\r\n/.test(data)) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
    s.on('connect', () => {
      s.write(payload);
      if (opts.drip) {
        let i = 0;
        const t = setInterval(() => {
          if (done || i >= opts.drip!.length) {
            clearInterval(t);
            return;
          }
          s.write(opts.drip![i++]!);
        }, 400);
      }
    });
  });
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:soak',
    holder: holder.publicKey,
    ttl: '2h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const headersTimeout = o.headersTimeoutMs ?? 2_000;
  const requestTimeout = o.requestTimeoutMs ?? 4_000;
  const hold = requestTimeout + 3_000;
  const service = await spawnService(`trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
  replayCacheSize: ${Math.max(200_000, o.rate * o.seconds * 2)}
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
  bodyLimit: 65536
  headersTimeout: ${headersTimeout}
  requestTimeout: ${requestTimeout}
  keepAliveTimeout: 5s
  maxConnections: 2048
  audit:
    path: ./audit.jsonl
    maxBytes: 4194304
`);
  const port = Number(new URL(service.url).port);
  const clients = Array.from({ length: o.clients }, () => new RemoteVerifier({ url: service.url, holderKey: holder, timeout: 10_000, connections: 8 }));
  const latencies: number[] = [];
  const failures: string[] = [];
  let sent = 0;
  let allowed = 0;
  const pending = new Set<Promise<void>>();
  const hostile = { sent: 0, answered4xx: 0, cutOff: 0, other: 0 };

  try {
    // warm up, then take the starting RSS
    for (let i = 0; i < 200; i++) {
      const d = await clients[i % o.clients]!.verifyCall(token, {
        tool: 'get_ticket',
        operation: 'read',
        resource: `tickets://acme/w${i}`,
        args: { id: i },
        callId: `warm-${i}`,
      });
      if (!d.allowed) throw new Error(`soak warm-up call denied: ${d.code} ${d.reason}`);
    }
    const rssStart = service.rss();
    let rssPeak = rssStart;
    log(
      `service ${service.url} (pid ${service.pid}); RSS at start ${(rssStart / 2 ** 20).toFixed(1)} MiB; ${o.rate} valid calls/s from ${o.clients} clients for ${o.seconds} s; hostile burst of ${o.burstSize} every ${o.burstEvery} s`,
    );

    const validCall = (i: number) => {
      const t0 = performance.now();
      const p = clients[i % o.clients]!.verifyCall(token, {
        tool: 'get_ticket',
        operation: 'read',
        resource: `tickets://acme/${i}`,
        args: { id: i, note: 'x'.repeat(i % 200) },
        callId: `soak-${i}`,
      }).then(
        (d) => {
          latencies.push(performance.now() - t0);
          if (d.allowed) allowed++;
          else if (failures.length < 20) failures.push(`call ${i}: ${d.code} ${d.reason}`);
        },
        (e) => {
          if (failures.length < 20) failures.push(`call ${i}: threw ${(e as Error).message}`);
        },
      );
      const q = p.finally(() => pending.delete(q));
      pending.add(q);
    };

    const good = JSON.stringify({ token: token.toString(), invocation: 'cfi1.AAAA', tool: 't', args: {} });
    const kinds: (() => Promise<'4xx' | 'cut' | 'other'>)[] = [
      async () => post('{"token": "cft1.'),
      async () => post(JSON.stringify({ token: 42, invocation: [], tool: null, args: 'x' })),
      async () => post(JSON.stringify({ ...JSON.parse(good), unexpected: true })),
      async () => post(`{"token":"${token}","invocation":"cfi1.AAAA","tool":"t","args":${'['.repeat(5000)}${']'.repeat(5000)}}`),
      async () => post('x'.repeat(70_000)),
      async () => raw(port, `POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n{`),
      async () => raw(port, `POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` + `4000\r\n${'a'.repeat(0x4000)}\r\n`.repeat(6)),
      async () => raw(port, Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage \r\n\r\n', 'latin1')),
      async () =>
        raw(port, 'POST /v1/verify HTTP/1.1\r\nHost: x\r\n', {
          hold,
          drip: ['X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n', 'X-E: 5\r\n', 'X-F: 6\r\n', 'X-G: 7\r\n', 'X-H: 8\r\n', 'X-I: 9\r\n', 'X-J: 10\r\n'],
        }),
      async () => raw(port, 'POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"to', { hold }),
      async () =>
        new Promise((r) => {
          const s = connect(port, '127.0.0.1', () => {
            s.destroy();
            r('cut');
          });
          s.on('error', () => r('cut'));
        }),
      async () => post(good, { 'content-length': '5' }).catch(() => 'cut' as const),
    ];
    async function post(body: string, headers: Record<string, string> = {}): Promise<'4xx' | 'cut' | 'other'> {
      try {
        const res = await request(service.url + '/v1/verify', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
        await res.body.dump();
        return res.statusCode >= 400 && res.statusCode < 500 ? '4xx' : res.statusCode === 200 ? '4xx' : 'other';
      } catch {
        return 'cut';
      }
    }
    const burst = () => {
      for (let i = 0; i < o.burstSize; i++) {
        hostile.sent++;
        const k = kinds[i % kinds.length]!;
        const p = k().then(
          (r) => {
            if (r === '4xx') hostile.answered4xx++;
            else if (r === 'cut') hostile.cutOff++;
            else hostile.other++;
          },
          () => {
            hostile.cutOff++;
          },
        );
        const q = p.finally(() => pending.delete(q));
        pending.add(q);
      }
    };

    const start = performance.now();
    const end = start + o.seconds * 1000;
    let nextBurst = start + 1000;
    let nextReport = start + 10_000;
    while (performance.now() < end) {
      const now = performance.now();
      const due = Math.floor(((now - start) / 1000) * o.rate);
      while (sent < due) validCall(sent++);
      if (now >= nextBurst) {
        burst();
        nextBurst += o.burstEvery * 1000;
      }
      if (now >= nextReport) {
        const rss = service.rss();
        rssPeak = Math.max(rssPeak, rss);
        log(
          `t=${((now - start) / 1000).toFixed(0)}s valid ${allowed}/${sent} allowed, ${failures.length} failed; hostile ${hostile.sent}; RSS ${(rss / 2 ** 20).toFixed(1)} MiB`,
        );
        nextReport += 10_000;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(pending);
    const alive = service.child.exitCode === null;
    let healthy = false;
    try {
      const h = await request(service.url + '/healthz');
      healthy = h.statusCode === 200 && ((await h.body.json()) as { status?: string }).status === 'ok';
    } catch {
      /* not healthy */
    }
    // let the GC catch up with the burst's garbage before the final reading
    await new Promise((r) => setTimeout(r, 500));
    const rssEnd = service.rss();
    rssPeak = Math.max(rssPeak, rssEnd);
    for (const c of clients) await c.close();
    await service.stop({ keepDir: true });
    const audit = verifyAuditLog(join(service.dir, 'audit.jsonl'));
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
    const failed = sent - allowed;
    const rssOk = rssEnd <= rssStart * 1.5 + 32 * 2 ** 20;
    const result: SoakResult = {
      seconds: o.seconds,
      valid: { sent, allowed, failed, failures },
      hostile,
      latencyP50Ms: pct(50),
      latencyP99Ms: pct(99),
      rssStart,
      rssEnd,
      rssPeak,
      alive,
      healthy,
      auditOk: audit.ok,
      auditLines: audit.lines,
      pass: failed === 0 && alive && healthy && audit.ok && rssOk && hostile.other === 0,
    };
    return result;
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await service.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, rate: { type: 'string' }, clients: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const o: SoakOptions = {
    seconds: Number(values.seconds ?? 60),
    rate: Number(values.rate ?? 400),
    clients: Number(values.clients ?? 8),
    burstEvery: 5,
    burstSize: 240,
    log: (l) => process.stderr.write(`soak: ${l}\n`),
  };
  const r = await runSoak(o);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  process.stdout.write(
    [
      `soak: ${r.seconds} s at ${o.rate} valid calls/s (${o.clients} keep-alive clients) + ${r.hostile.sent} hostile requests`,
      `  valid:   ${r.valid.allowed}/${r.valid.sent} allowed, ${r.valid.failed} failed; latency p50 ${r.latencyP50Ms.toFixed(2)} ms, p99 ${r.latencyP99Ms.toFixed(2)} ms`,
      `  hostile: ${r.hostile.answered4xx} answered 4xx, ${r.hostile.cutOff} cut off (timeouts, resets), ${r.hostile.other} other`,
      `  service: ${r.alive ? 'alive' : 'DEAD'}, ${r.healthy ? 'healthy' : 'UNHEALTHY'}; RSS start ${mib(r.rssStart)}, end ${mib(r.rssEnd)}, peak ${mib(r.rssPeak)}`,
      `  audit:   ${r.auditOk ? 'chain intact' : 'CHAIN BROKEN'}, ${r.auditLines} lines`,
      ...r.valid.failures.map((f) => `  failure: ${f}`),
      r.pass ? 'soak: PASS' : 'soak: FAIL',
      '',
    ].join('\n'),
  );
  if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
  process.exitCode = r.pass ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
