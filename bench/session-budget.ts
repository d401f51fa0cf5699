/**
 * The per-call CPU budget of a session call, stage by stage, in one process
 * (no HTTP; the transport's own cost is what bench/session-profile.ts adds on
 * top): the client's seal and request JSON, the service's parse, shape check,
 * session check, audit line, decision JSON and answer tag, the response JSON,
 * and the client's parse and answer check. Batches of `batch` calls, as the
 * client sends them under load.
 *
 *   npx tsx bench/session-budget.ts [batch=20] [calls=40000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, Verifier } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { SessionTable, type SessionCall } from '../src/verify/session-table.ts';
import { beginSession, type SealedCall } from '../src/remote/session-client.ts';
import { decisionToJson, readSessionAnswers, sessionCallProblem } from '../src/remote/wire.ts';
import { AuditLog } from '../src/audit/log.ts';
import { createDecider } from '../src/server/decide.ts';
import { Metrics } from '../src/server/metrics.ts';
import type { Decision } from '../src/verify/verifier.ts';
import { benchToken } from './support.ts';

const batch = Number(process.argv[2] ?? 20);
const calls = Number(process.argv[3] ?? 40_000);

const { authority, holder, token } = benchToken();
const service = generateKey();
const verifier = new Verifier({ trusted: [authority.publicKey] });
const table = new SessionTable({ verifier, signer: keySigner(service), handshakesPerSecond: 1_000_000, maxPerHolder: 1_000_000, maxSessions: 1_000_000 });
const dir = mkdtempSync(join(tmpdir(), 'capframe-budget-'));
const audit = AuditLog.open({ path: join(dir, 'audit.jsonl') });
const metrics = new Metrics();
const decider = createDecider(verifier, metrics, audit);
const n0 = table.nonce('b');
const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n0.nonce, ttl: 3600 });
const o = await table.open(p.raw);
const session = p.finish(o.reply, o.signature);

const t: Record<string, number> = {};
const time = <T>(k: string, f: () => T): T => {
  const c0 = process.cpuUsage();
  const r = f();
  const c = process.cpuUsage(c0);
  t[k] = (t[k] ?? 0) + c.user + c.system;
  return r;
};
const timeAsync = async <T>(k: string, f: () => Promise<T>): Promise<T> => {
  const c0 = process.cpuUsage();
  const r = await f();
  const c = process.cpuUsage(c0);
  t[k] = (t[k] ?? 0) + c.user + c.system;
  return r;
};

async function round(start: number, n: number): Promise<void> {
  for (let i = start; i < start + n; i += batch) {
    const sealed: SealedCall[] = time('client seal', () => {
      const out: SealedCall[] = [];
      for (let k = 0; k < batch; k++)
        out.push(
          session.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i + k}`, args: { id: i + k }, callId: `call_${i + k}` }, 30),
        );
      return out;
    });
    const body = time('client request JSON', () => '{"calls":[' + sealed.map((s) => JSON.stringify(s.envelope)).join(',') + ']}');
    const json = time('service body JSON.parse', () => JSON.parse(body) as { calls: unknown[] });
    time('service shape check', () => {
      for (const c of json.calls) if (sessionCallProblem(c) !== undefined) throw new Error('shape');
    });
    const decisions = time('service session check', () => json.calls.map((c) => table.check(c as SessionCall) as Decision));
    const t0s = decisions.map(() => process.hrtime.bigint());
    const settled = await timeAsync('service audit + metrics', () => decider.settle(decisions, t0s));
    const texts = time('service decision JSON', () => settled.map((d) => JSON.stringify(decisionToJson(d))));
    const answers = time('service answer tag', () => texts.map((x, k) => table.answer(json.calls[k] as SessionCall, x)));
    const out = time('service response JSON', () => JSON.stringify({ answers }));
    const back = time('client response JSON.parse', () => readSessionAnswers(JSON.parse(out))!);
    time('client answer check', () => {
      for (let k = 0; k < back.length; k++) if (!session.open(sealed[k]!, back[k]!).allowed) throw new Error('denied');
    });
  }
}

await round(0, Math.min(calls, 5_000));
for (const k of Object.keys(t)) delete t[k];
await round(10_000_000, calls);
const rows = Object.entries(t).map(([k, v]) => [k, v / calls] as const);
const client = rows.filter(([k]) => k.startsWith('client')).reduce((a, [, v]) => a + v, 0);
const svc = rows.filter(([k]) => k.startsWith('service')).reduce((a, [, v]) => a + v, 0);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(28)} ${v.toFixed(2).padStart(7)} us\n`);
process.stdout.write(`${'client total'.padEnd(28)} ${client.toFixed(2).padStart(7)} us\n${'service total'.padEnd(28)} ${svc.toFixed(2).padStart(7)} us\n`);
process.stdout.write(JSON.stringify({ batch, calls, ...Object.fromEntries(rows.map(([k, v]) => [k, +v.toFixed(2)])), client, service: svc }) + '\n');
audit.close();
rmSync(dir, { recursive: true, force: true });
