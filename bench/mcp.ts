/**
 * MCP suite: the cost of capframe on an MCP tool call over Streamable HTTP on
 * 127.0.0.1 (client and server in this process, one session each).
 *
 *  - bare: `client.callTool` of a no-op tool on an McpServer without capframe.
 *  - guarded: the same tool on a guarded McpServer, called through
 *    `withCapframe` (the client signs a proof per call, the server verifies
 *    it and claims its replay entry before the handler runs).
 *  - session: the same over a session (spec §4.7): one handshake, then per
 *    call an HMAC tag sealed by the client, checked by the SessionTable, and
 *    the answer's tag checked by the client. Target: session - bare at most
 *    0.1 x one native Ed25519 verify.
 *  - session_work alone: seal + table check + answer tag + open, in process.
 *
 * Measured side by side (interleaved rounds) with node:crypto Ed25519 sign
 * and verify of a 200-byte message, the reference the target is expressed in.
 * The machine's 1-minute load average is reported at the start and the end.
 *
 * Where the overhead goes, in the same run:
 *  - bare_meta: the bare call carrying an inert `_meta` entry as large as the
 *    credential (token and proof text): what the extra bytes cost the transport.
 *  - client_sign: `signCallParams` alone (what `withCapframe` adds per call).
 *  - server_check: the guard's check alone (resource from the template, then
 *    `verifyInvocation`: proof signature, match, rules, replay claim).
 *  - bare_plus_work: the bare call after doing, in this process, the same
 *    work as the guard (sign the call, verify it on a second Verifier): if it
 *    costs what guarded costs, the overhead is that work and nothing
 *    MCP-specific (no extra round trip, no slower transport path).
 *  - CPU time per call (process.cpuUsage, client and server are this process):
 *    the work a call costs, far less exposed than wall time to a machine
 *    shared with other processes, where every extra microsecond of work can
 *    also wait for a core.
 */
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { loadavg } from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { generateKey, issueToken, Verifier } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { SessionTable } from '../src/verify/session-table.ts';
import { beginSession } from '../src/remote/session-client.ts';
import { decisionToJson } from '../src/remote/wire.ts';
import { guardMcpServer, META_KEY, signCallParams, withCapframe } from '../src/mcp/index.ts';
import { definePolicy } from '../src/config/tools.ts';
import { serveHttp, type HttpEndpoint } from '../examples/mcp/http.ts';
import { compare, fmtUs, nowNs, percentile, round, summarize } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';

function noopServer(guard: ((s: McpServer) => void) | undefined): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  guard?.(server);
  server.registerTool('noop', { inputSchema: { id: z.string() } }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  return server;
}

/**
 * The SDK's client transport hands one AbortSignal to every fetch, and Node's
 * fetch keeps an abort listener on it per request until that request is
 * garbage-collected: thousands of listeners, each new one compared with all
 * of them and, past 1500, a warning with a stack trace per request. That
 * cost lands on bare and guarded calls alike and swamps their difference, so
 * the benchmark's clients fetch without the shared signal (nothing is aborted
 * here: every call is awaited before the transports close).
 */
const fetchWithoutSharedSignal: typeof fetch = (url, init) => fetch(url, { ...init, signal: null });

async function connect(h: HttpEndpoint): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(h.url, { fetch: fetchWithoutSharedSignal }));
  return c;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const loadStart = loadavg()[0]!;
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:bench',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'noop://bench/*', permissions: ['read'] }],
  });
  const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 1_000_000 });
  const sideVerifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 1_000_000 });
  const policies = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };
  const bareHttp = await serveHttp(() => noopServer(undefined));
  const guardedHttp = await serveHttp(() => noopServer((s) => guardMcpServer(s, { verifier, policies })));
  const serviceKey = generateKey();
  const sessionVerifier = new Verifier({ trusted: [authority.publicKey] });
  const table = new SessionTable({ verifier: sessionVerifier, signer: keySigner(serviceKey) });
  const sessionHttp = await serveHttp(() => noopServer((s) => guardMcpServer(s, { verifier: sessionVerifier, policies, sessions: table })));
  const bare = await connect(bareHttp);
  const guardedClient = await connect(guardedHttp);
  const guarded = withCapframe(guardedClient, { token, holderKey: holder, policies });
  const sessionClient = await connect(sessionHttp);
  const session = withCapframe(sessionClient, { token, holderKey: holder, policies, serviceKey: serviceKey.publicKey });
  try {
    const kp = generateKeyPairSync('ed25519');
    const message = Buffer.alloc(200, 7);
    const sig = nodeSign(null, message, kp.privateKey);
    const check = (r: unknown) => {
      if ((r as { isError?: unknown }).isError) throw new Error('bench: MCP call failed');
    };
    const args = (i: number) => ({ name: 'noop', arguments: { id: `item-${i}` } });
    const policy = definePolicy('noop', policies.noop);
    const signing = { token, holderKey: holder };
    const sample = signCallParams(args(0), policy, signing)._meta![META_KEY] as { token: string; proof: string };
    const pad = { token: 'x'.repeat(sample.token.length), proof: 'y'.repeat(sample.proof.length) };
    const plan = ctx.quick ? { warmup: 100, iterations: 400, rounds: 4 } : { warmup: 500, iterations: 3_000, rounds: 12 };
    const checkSigned = async (v: Verifier, p: ReturnType<typeof signCallParams>) => {
      const c = p._meta![META_KEY] as { token: string; proof: string };
      const a = p.arguments!;
      const d = await v.verifyInvocation(c.token, c.proof, { tool: p.name, args: a, operation: policy.operation, resource: policy.resource.render(a) });
      if (!d.allowed) throw new Error('bench: check failed');
    };
    // The session work alone, in process: a session of its own on a second table.
    const sideTable = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(serviceKey) });
    const n0 = sideTable.nonce('bench');
    const pend = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce: n0.nonce, ttl: 3600 });
    const opened = await sideTable.open(pend.raw);
    const side = pend.finish(opened.reply, opened.signature);
    const sessionWork = async (i: number) => {
      const a = { id: `item-${i}` };
      const sealed = side.seal({ tool: 'noop', operation: policy.operation, resource: policy.resource.render(a), args: a, callId: `c${i}` });
      const e = sealed.envelope;
      const call = {
        session: e.session,
        counter: e.counter,
        tool: 'noop',
        operation: policy.operation,
        resource: policy.resource.render(a),
        args: a,
        callId: e.callId,
        exp: e.exp,
        tag: e.tag,
      };
      const d = await sideTable.check(call);
      if (!side.open(sealed, sideTable.answer(call, JSON.stringify(decisionToJson(d)))).allowed) throw new Error('bench: session check failed');
    };
    const micro = await compare(
      [
        { name: 'session_work', run: (i: number) => sessionWork(i) },
        { name: 'native_verify', run: () => nodeVerify(null, message, kp.publicKey, sig) },
        { name: 'native_sign', run: () => nodeSign(null, message, kp.privateKey) },
        { name: 'client_sign', prepare: args, run: (p) => signCallParams(p, policy, signing) },
        { name: 'server_check', prepare: (i) => signCallParams(args(i), policy, signing), run: (p) => checkSigned(verifier, p) },
      ],
      plan,
    );
    // The calls over HTTP: interleaved call by call (the order rotating), so that every case
    // meets the same moment of a shared machine; wall and CPU time of each call.
    const calls: { name: string; run: (i: number) => Promise<unknown> }[] = [
      { name: 'bare', run: (i) => bare.callTool(args(i)) },
      { name: 'guarded', run: (i) => guarded.callTool(args(i)) },
      { name: 'session', run: (i) => session.callTool(args(i)) },
      { name: 'bare_meta', run: (i) => bare.callTool({ ...args(i), _meta: { 'bench.pad/v1': pad } }) },
      {
        name: 'bare_plus_work',
        run: async (i) => {
          await checkSigned(sideVerifier, signCallParams(args(i), policy, signing));
          return bare.callTool(args(i));
        },
      },
    ];
    const wall = new Map(calls.map((c) => [c.name, [] as number[]]));
    const cpuOf = new Map(calls.map((c) => [c.name, 0]));
    let n = 0;
    for (let i = 0; i < plan.warmup + plan.iterations; i++) {
      for (let j = 0; j < calls.length; j++) {
        const c = calls[(i + j) % calls.length]!;
        const id = n++;
        const c0 = process.cpuUsage();
        const t0 = nowNs();
        check(await c.run(id));
        const t1 = nowNs();
        const d = process.cpuUsage(c0);
        if (i < plan.warmup) continue;
        wall.get(c.name)!.push(Number(t1 - t0) / 1000);
        cpuOf.set(c.name, cpuOf.get(c.name)! + d.user + d.system);
      }
    }
    const samples = new Map([...micro, ...wall]);
    const s = (name: string) => summarize(samples.get(name)!);
    /** Median over the interleaved iterations of (case - bare), call by call. */
    const paired = (name: string) => {
      const a = wall.get(name)!;
      const base = wall.get('bare')!;
      return percentile(
        a.map((x, k) => x - base[k]!),
        50,
      );
    };
    const cpuPerCall = (name: string) => cpuOf.get(name)! / plan.iterations;
    const nv = s('native_verify');
    const ns = s('native_sign');
    const b = s('bare');
    const g = s('guarded');
    const bm = s('bare_meta');
    const bw = s('bare_plus_work');
    const cs = s('client_sign');
    const ss = s('session');
    const sw = s('session_work');
    const sessionOver = ss.p50 - b.p50;
    const sessionBudget = 0.1 * nv.p50;
    const sessionCpu = cpuPerCall('session');
    const sc = s('server_check');
    const over = g.p50 - b.p50;
    const budget = 1.5 * (ns.p50 + nv.p50);
    const bareCpu = cpuPerCall('bare');
    const guardedCpu = cpuPerCall('guarded');
    const cpuOver = guardedCpu - bareCpu;
    const loadEnd = loadavg()[0]!;
    const metrics: Record<string, number> = {
      mcp_call_bare_us: round(b.p50),
      mcp_call_guarded_us: round(g.p50),
      mcp_call_session_us: round(ss.p50),
      mcp_call_session_p99_us: round(ss.p99),
      mcp_call_session_p10_us: round(percentile(samples.get('session')!, 10)),
      mcp_session_overhead_us: round(sessionOver),
      mcp_session_overhead_paired_us: round(paired('session')),
      mcp_session_overhead_x_verify: round(sessionOver / nv.p50, 3),
      mcp_session_work_us: round(sw.p50),
      mcp_call_session_cpu_us: round(sessionCpu),
      mcp_session_cpu_overhead_us: round(sessionCpu - bareCpu),
      mcp_call_bare_p99_us: round(b.p99),
      mcp_call_guarded_p99_us: round(g.p99),
      mcp_guarded_overhead_us: round(over),
      mcp_call_bare_p10_us: round(percentile(samples.get('bare')!, 10)),
      mcp_call_guarded_p10_us: round(percentile(samples.get('guarded')!, 10)),
      mcp_call_bare_meta_us: round(bm.p50),
      mcp_call_bare_plus_work_us: round(bw.p50),
      mcp_guarded_overhead_paired_us: round(paired('guarded')),
      mcp_bare_plus_work_overhead_paired_us: round(paired('bare_plus_work')),
      mcp_bare_meta_overhead_paired_us: round(paired('bare_meta')),
      mcp_call_bare_plus_work_cpu_us: round(cpuPerCall('bare_plus_work')),
      mcp_client_sign_us: round(cs.p50),
      mcp_server_check_us: round(sc.p50),
      mcp_call_bare_cpu_us: round(bareCpu),
      mcp_call_guarded_cpu_us: round(guardedCpu),
      mcp_guarded_cpu_overhead_us: round(cpuOver),
      mcp_sign_us: round(ns.p50),
      mcp_verify_us: round(nv.p50),
      mcp_load_start_1m: round(loadStart, 2),
      mcp_load_end_1m: round(loadEnd, 2),
    };
    const rows: BenchRow[] = [
      { name: 'MCP callTool bare, Streamable HTTP loopback (p50)', value: `${fmtUs(b.p50)}  (p99 ${fmtUs(b.p99)})` },
      {
        name: 'MCP callTool guarded, signed proof (p50)',
        value: `${fmtUs(g.p50)}  (+${fmtUs(over)}; p99 ${fmtUs(g.p99)})`,
        target: `overhead <= 1.5 x (sign + verify) = ${fmtUs(budget)}  [${(over / (ns.p50 + nv.p50)).toFixed(2)} x]`,
        ok: over <= budget,
      },
      {
        name: 'MCP callTool over a session (p50)',
        value: `${fmtUs(ss.p50)}  (+${fmtUs(sessionOver)}; paired +${fmtUs(paired('session'))}; p99 ${fmtUs(ss.p99)})`,
        target: `overhead <= 0.1 x verify = ${fmtUs(sessionBudget)}  [${(sessionOver / nv.p50).toFixed(2)} x verify]`,
        ok: sessionOver <= sessionBudget,
      },
      {
        name: 'session work alone (seal + check + answer tag + open, p50) / CPU per call session (+ over bare)',
        value: `${fmtUs(sw.p50)} / ${fmtUs(sessionCpu)} (+${fmtUs(sessionCpu - bareCpu)})`,
      },
      {
        name: 'p10 bare / guarded (less exposed to a loaded machine)',
        value: `${fmtUs(percentile(samples.get('bare')!, 10))} / ${fmtUs(percentile(samples.get('guarded')!, 10))}`,
      },
      {
        name: 'guarded - bare, call by call (median of differences)',
        value: `+${fmtUs(paired('guarded'))}  [${(paired('guarded') / (ns.p50 + nv.p50)).toFixed(2)} x (sign + verify)]`,
      },
      {
        name: "bare + the guard's work beside it - bare (same)",
        value: `+${fmtUs(paired('bare_plus_work'))}  (p50 ${fmtUs(bw.p50)})`,
      },
      { name: 'bare + inert _meta as large as the credential - bare (same)', value: `+${fmtUs(paired('bare_meta'))}  (p50 ${fmtUs(bm.p50)})` },
      { name: 'client sign / server check alone (p50)', value: `${fmtUs(cs.p50)} / ${fmtUs(sc.p50)}  (sum ${fmtUs(cs.p50 + sc.p50)})` },
      {
        name: 'CPU time per call bare / guarded / bare + work (mean)',
        value: `${fmtUs(bareCpu)} / ${fmtUs(guardedCpu)} / ${fmtUs(cpuPerCall('bare_plus_work'))}  (guarded +${fmtUs(cpuOver)})`,
      },
      { name: 'Ed25519 sign / verify, node:crypto (p50)', value: `${fmtUs(ns.p50)} / ${fmtUs(nv.p50)}` },
    ];
    return { metrics, rows };
  } finally {
    await bare.close();
    await guardedClient.close();
    await sessionClient.close();
    await bareHttp.close();
    await sessionHttp.close();
    await guardedHttp.close();
  }
}

export const mcpSuite: Suite = { name: 'mcp', default: false, run };
