/**
 * MCP suite: the cost of capframe on an MCP tool call over Streamable HTTP on
 * 127.0.0.1. The servers run in a child process (bench/mcp-server.ts), the
 * clients here, so that CPU time per call is measured per side.
 *
 * Calls over HTTP, one case each, interleaved in blocks (each round runs a
 * block of every case, the order rotating; warm-up rounds discarded):
 *  - bare: `client.callTool` of a no-op tool on an McpServer without capframe.
 *  - guarded: the same tool behind guardMcpServer, called through
 *    `withCapframe` (a proof signed per call, verified and its replay entry
 *    claimed before the handler runs).
 *  - session: the same over a session (spec §4.7): one handshake, then per
 *    call an HMAC tag sealed by the client, checked by the SessionTable, and
 *    the answer's tag checked by the client.
 *  - bare_meta / bare_meta_session: the bare call carrying an inert `_meta`
 *    entry as large as the signed credential / the session credential (and,
 *    for the latter, a result `_meta` as large as the session answer): what
 *    the extra bytes cost the SDK and the transport, not capframe's work.
 *  - bare_crypto: the bare call whose handler times one node:crypto Ed25519
 *    sign and verify: what they cost where the guard runs them, inside the
 *    server's handling of a call (the reference values below are tight loops).
 * For each: wall time per call (p50, p10, p99) and CPU time per call of the
 * client process and of the server process (process.cpuUsage around each
 * block; CPU is far less exposed than wall time to a machine shared with
 * other processes).
 *
 * In this process, tight loops (interleaved rounds), the same run:
 * node:crypto Ed25519 sign and verify of a 200-byte message (the reference the
 * targets are expressed in), `signCallParams` alone (client_sign), the
 * guard's check alone (server_check: template, verifyInvocation with replay
 * claim), the session work alone (seal + table check + answer tag + open),
 * and sign / verify timed right after a bare call (client side, cold caches).
 *
 * Targets (issue 13): guarded - bare <= 1.5 x (sign + verify); session - bare
 * <= 0.1 x verify (p50 wall, sign and verify from the tight loops). Beside
 * them, each path's floor from the controls (no capframe code runs in them):
 * signed = bare_meta + bare_crypto overheads, session = bare_meta_session
 * overhead + the session work's tight-loop time. The
 * 1-, 5- and 15-minute load averages are reported at the start and the end.
 */
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { loadavg } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey, Verifier } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { SessionTable } from '../src/verify/session-table.ts';
import { beginSession } from '../src/remote/session-client.ts';
import { decisionToJson } from '../src/remote/wire.ts';
import { META_KEY, signCallParams, withCapframe } from '../src/mcp/index.ts';
import { definePolicy } from '../src/config/tools.ts';
import { compare, fmtUs, nowNs, percentile, round, summarize } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';
import { BENCH_POLICIES } from './mcp-server.ts';
import { connectMcp, ServerChild } from './mcp-child.ts';

const load = (): number[] => loadavg().map((x) => round(x, 2));

async function run(ctx: BenchContext): Promise<BenchResult> {
  const loadStart = load();
  const authority = generateKey();
  const holder = generateKey();
  const serviceKey = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:bench',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'noop://bench/*', permissions: ['read'] }],
  });
  const policies = BENCH_POLICIES;
  const policy = definePolicy('noop', policies.noop);
  const signing = { token, holderKey: holder };
  const args = (i: number) => ({ name: 'noop', arguments: { id: `item-${i}` } });

  // In process: the work alone, and a session of its own on a side table.
  const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 1_000_000 });
  const sideTable = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(serviceKey) });
  const n0 = sideTable.nonce('bench');
  const pend = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce: n0.nonce, ttl: 3600 });
  const opened = await sideTable.open(pend.raw);
  const side = pend.finish(opened.reply, opened.signature);
  let answerChars = 0;
  const sessionWork = async (i: number) => {
    const a = { id: `item-${i}` };
    const resource = policy.resource.render(a);
    const sealed = side.seal({ tool: 'noop', operation: policy.operation, resource, args: a, callId: `c${i}` });
    const e = sealed.envelope;
    const call = {
      session: e.session,
      counter: e.counter,
      tool: 'noop',
      operation: policy.operation,
      resource,
      args: a,
      callId: e.callId,
      exp: e.exp,
      tag: e.tag,
    };
    const d = await sideTable.check(call);
    const answer = sideTable.answer(call, JSON.stringify(decisionToJson(d)));
    answerChars = answer.decision.length;
    if (!side.open(sealed, answer).allowed) throw new Error('bench: session check failed');
  };
  await sessionWork(-1);
  const checkSigned = async (p: ReturnType<typeof signCallParams>) => {
    const c = p._meta![META_KEY] as { token: string; proof: string };
    const a = p.arguments!;
    const d = await verifier.verifyInvocation(c.token, c.proof, { tool: p.name, args: a, operation: policy.operation, resource: policy.resource.render(a) });
    if (!d.allowed) throw new Error('bench: check failed');
  };

  const { child, urls } = await ServerChild.start({
    type: 'start',
    authority: formatPublicKey(authority.publicKey),
    serviceKey: serializePrivateKey(serviceKey),
    answerPad: answerChars,
  });
  const clients: Client[] = [];
  try {
    const bare = await connectMcp(urls.bare);
    const guardedClient = await connectMcp(urls.guarded);
    const sessionClient = await connectMcp(urls.session);
    clients.push(bare, guardedClient, sessionClient);
    const guarded = withCapframe(guardedClient, { token, holderKey: holder, policies });
    const session = withCapframe(sessionClient, { token, holderKey: holder, policies, serviceKey: serviceKey.publicKey });

    const kp = generateKeyPairSync('ed25519');
    const message = Buffer.alloc(200, 7);
    const sig = nodeSign(null, message, kp.privateKey);
    const check = (r: unknown) => {
      if ((r as { isError?: unknown }).isError) throw new Error('bench: MCP call failed');
    };
    const sample = signCallParams(args(0), policy, signing)._meta![META_KEY] as { token: string; proof: string };
    const signedPad = { token: 'x'.repeat(sample.token.length), proof: 'y'.repeat(sample.proof.length) };
    const sessionPad = { session: 'x'.repeat(22), counter: 1000, callId: 'y'.repeat(22), exp: 1_900_000_000, tag: 'z'.repeat(43) };
    const plan = ctx.quick
      ? { warmup: 100, iterations: 400, rounds: 4, block: 20, httpRounds: 20, httpWarmup: 5 }
      : { warmup: 500, iterations: 3_000, rounds: 12, block: 25, httpRounds: 120, httpWarmup: 20 };

    // Sign and verify timed right after a bare call (this process: the client side).
    const afterCall = { sign: [] as number[], verify: [] as number[] };
    const micro = await compare(
      [
        { name: 'session_work', run: (_: unknown, i: number) => sessionWork(i) },
        { name: 'native_verify', run: () => nodeVerify(null, message, kp.publicKey, sig) },
        { name: 'native_sign', run: () => nodeSign(null, message, kp.privateKey) },
        { name: 'client_sign', prepare: args, run: (p) => signCallParams(p, policy, signing) },
        { name: 'server_check', prepare: (i) => signCallParams(args(i), policy, signing), run: (p) => checkSigned(p) },
      ],
      { warmup: plan.warmup, iterations: plan.iterations, rounds: plan.rounds },
    );

    const cases: { name: string; run: (i: number) => Promise<unknown> }[] = [
      { name: 'bare', run: (i) => bare.callTool(args(i)) },
      { name: 'guarded', run: (i) => guarded.callTool(args(i)) },
      { name: 'session', run: (i) => session.callTool(args(i)) },
      // Literals, like args(): an object spread here would cost these cases microseconds the others do not pay.
      { name: 'bare_meta', run: (i) => bare.callTool({ name: 'noop', arguments: { id: `item-${i}` }, _meta: { 'bench.pad/v1': signedPad } }) },
      { name: 'bare_meta_session', run: (i) => bare.callTool({ name: 'noop_pad', arguments: { id: `item-${i}` }, _meta: { 'bench.pad/v1': sessionPad } }) },
      { name: 'bare_crypto', run: (i) => bare.callTool({ name: 'noop_crypto', arguments: { id: `item-${i}` } }) },
      {
        name: 'client_crypto',
        run: async (i) => {
          const r = await bare.callTool(args(i));
          const t0 = nowNs();
          const s = nodeSign(null, message, kp.privateKey);
          const t1 = nowNs();
          nodeVerify(null, message, kp.publicKey, s);
          const t2 = nowNs();
          afterCall.sign.push(Number(t1 - t0) / 1000);
          afterCall.verify.push(Number(t2 - t1) / 1000);
          return r;
        },
      },
    ];
    const wall = new Map(cases.map((c) => [c.name, [] as number[]]));
    const cpu = new Map(cases.map((c) => [c.name, { client: 0, server: 0, calls: 0 }]));
    let n = 0;
    for (let r = 0; r < plan.httpWarmup + plan.httpRounds; r++) {
      const timed = r >= plan.httpWarmup;
      if (r === plan.httpWarmup) {
        afterCall.sign.length = 0;
        afterCall.verify.length = 0;
      }
      for (let j = 0; j < cases.length; j++) {
        const c = cases[(r + j) % cases.length]!;
        const s0 = await child.cpu();
        const c0 = process.cpuUsage();
        const w = wall.get(c.name)!;
        for (let k = 0; k < plan.block; k++) {
          const t0 = nowNs();
          check(await c.run(n++));
          const t1 = nowNs();
          if (timed) w.push(Number(t1 - t0) / 1000);
        }
        const dc = process.cpuUsage(c0);
        const s1 = await child.cpu();
        if (!timed) continue;
        const acc = cpu.get(c.name)!;
        acc.client += dc.user + dc.system;
        acc.server += s1 - s0;
        acc.calls += plan.block;
      }
    }
    const inServer = await child.crypto();
    // Keep the samples of the timed rounds only (the warm-up rounds ran the tool too).
    const timedCrypto = plan.httpRounds * plan.block;
    const serverSign = summarize(inServer.sign.slice(-timedCrypto));
    const serverVerify = summarize(inServer.verify.slice(-timedCrypto));
    const clientSignAfter = summarize(afterCall.sign);
    const clientVerifyAfter = summarize(afterCall.verify);

    const s = (name: string) => summarize((micro.get(name) ?? wall.get(name))!);
    const p10 = (name: string) => percentile(wall.get(name)!, 10);
    const cpuOf = (name: string) => {
      const a = cpu.get(name)!;
      return { client: a.client / a.calls, server: a.server / a.calls, total: (a.client + a.server) / a.calls };
    };
    const nv = s('native_verify');
    const ns = s('native_sign');
    const b = s('bare');
    const g = s('guarded');
    const ss = s('session');
    const bm = s('bare_meta');
    const bms = s('bare_meta_session');
    const bc = s('bare_crypto');
    const over = g.p50 - b.p50;
    const sessionOver = ss.p50 - b.p50;
    const metaOver = bm.p50 - b.p50;
    const metaSessionOver = bms.p50 - b.p50;
    const cryptoOver = bc.p50 - b.p50;
    const budget = 1.5 * (ns.p50 + nv.p50);
    const sessionBudget = 0.1 * nv.p50;
    // Floors, from controls of the same run that run no capframe code: what carrying the credential's bytes and
    // doing the required crypto where it runs cost by themselves. A target below its floor cannot be met by any guard.
    const signedFloor = metaOver + cryptoOver;
    const sessionFloor = metaSessionOver + s('session_work').p50;
    const cb = cpuOf('bare');
    const cg = cpuOf('guarded');
    const cs = cpuOf('session');
    const cm = cpuOf('bare_meta');
    const cms = cpuOf('bare_meta_session');
    const cc = cpuOf('bare_crypto');
    const loadEnd = load();
    const metrics: Record<string, number> = {
      mcp_call_bare_us: round(b.p50),
      mcp_call_guarded_us: round(g.p50),
      mcp_call_session_us: round(ss.p50),
      mcp_call_bare_meta_us: round(bm.p50),
      mcp_call_bare_meta_session_us: round(bms.p50),
      mcp_call_bare_crypto_us: round(bc.p50),
      mcp_call_bare_p10_us: round(p10('bare')),
      mcp_call_guarded_p10_us: round(p10('guarded')),
      mcp_call_session_p10_us: round(p10('session')),
      mcp_call_bare_p99_us: round(b.p99),
      mcp_call_guarded_p99_us: round(g.p99),
      mcp_call_session_p99_us: round(ss.p99),
      mcp_guarded_overhead_us: round(over),
      mcp_session_overhead_us: round(sessionOver),
      mcp_bare_meta_overhead_us: round(metaOver),
      mcp_bare_meta_session_overhead_us: round(metaSessionOver),
      mcp_bare_crypto_overhead_us: round(cryptoOver),
      mcp_guarded_overhead_x_sign_verify: round(over / (ns.p50 + nv.p50), 3),
      mcp_session_overhead_x_verify: round(sessionOver / nv.p50, 3),
      mcp_call_bare_client_cpu_us: round(cb.client),
      mcp_call_bare_server_cpu_us: round(cb.server),
      mcp_call_guarded_client_cpu_us: round(cg.client),
      mcp_call_guarded_server_cpu_us: round(cg.server),
      mcp_call_session_client_cpu_us: round(cs.client),
      mcp_call_session_server_cpu_us: round(cs.server),
      mcp_call_bare_meta_client_cpu_us: round(cm.client),
      mcp_call_bare_meta_server_cpu_us: round(cm.server),
      mcp_call_bare_meta_session_client_cpu_us: round(cms.client),
      mcp_call_bare_meta_session_server_cpu_us: round(cms.server),
      mcp_call_bare_crypto_server_cpu_us: round(cc.server),
      mcp_guarded_cpu_overhead_us: round(cg.total - cb.total),
      mcp_session_cpu_overhead_us: round(cs.total - cb.total),
      mcp_bare_meta_cpu_overhead_us: round(cm.total - cb.total),
      mcp_bare_meta_session_cpu_overhead_us: round(cms.total - cb.total),
      mcp_bare_crypto_cpu_overhead_us: round(cc.total - cb.total),
      mcp_signed_floor_us: round(signedFloor),
      mcp_session_floor_us: round(sessionFloor),
      mcp_signed_floor_x_target: round(signedFloor / budget, 3),
      mcp_session_floor_x_target: round(sessionFloor / sessionBudget, 3),
      mcp_client_sign_us: round(s('client_sign').p50),
      mcp_server_check_us: round(s('server_check').p50),
      mcp_session_work_us: round(s('session_work').p50),
      mcp_sign_us: round(ns.p50),
      mcp_verify_us: round(nv.p50),
      mcp_server_sign_in_call_us: round(serverSign.p50),
      mcp_server_verify_in_call_us: round(serverVerify.p50),
      mcp_client_sign_after_call_us: round(clientSignAfter.p50),
      mcp_client_verify_after_call_us: round(clientVerifyAfter.p50),
      mcp_load_start_1m: loadStart[0]!,
      mcp_load_start_5m: loadStart[1]!,
      mcp_load_start_15m: loadStart[2]!,
      mcp_load_end_1m: loadEnd[0]!,
      mcp_load_end_5m: loadEnd[1]!,
      mcp_load_end_15m: loadEnd[2]!,
    };
    const cpuText = (c: { client: number; server: number }, base?: { client: number; server: number }) =>
      `client ${fmtUs(c.client)} + server ${fmtUs(c.server)}` + (base ? `  (+${fmtUs(c.client - base.client)} / +${fmtUs(c.server - base.server)})` : '');
    const rows: BenchRow[] = [
      { name: 'MCP callTool bare, Streamable HTTP loopback (p50; p10, p99)', value: `${fmtUs(b.p50)}  (${fmtUs(p10('bare'))}, ${fmtUs(b.p99)})` },
      {
        name: 'MCP callTool guarded, signed proof (p50)',
        value: `${fmtUs(g.p50)}  (+${fmtUs(over)}; p10 +${fmtUs(p10('guarded') - p10('bare'))})`,
        target: `overhead <= 1.5 x (sign + verify) = ${fmtUs(budget)}  [${(over / (ns.p50 + nv.p50)).toFixed(2)} x]`,
        ok: over <= budget,
      },
      {
        name: 'MCP callTool over a session (p50)',
        value: `${fmtUs(ss.p50)}  (+${fmtUs(sessionOver)}; p10 +${fmtUs(p10('session') - p10('bare'))})`,
        target: `overhead <= 0.1 x verify = ${fmtUs(sessionBudget)}  [${(sessionOver / nv.p50).toFixed(2)} x verify]`,
        ok: sessionOver <= sessionBudget,
      },
      { name: 'bare + _meta as large as the signed credential (p50)', value: `${fmtUs(bm.p50)}  (+${fmtUs(metaOver)})` },
      { name: 'bare + _meta as large as the session credential and answer (p50)', value: `${fmtUs(bms.p50)}  (+${fmtUs(metaSessionOver)})` },
      { name: 'bare + one Ed25519 sign and verify in the tool handler (p50)', value: `${fmtUs(bc.p50)}  (+${fmtUs(cryptoOver)})` },
      {
        name: 'floor, signed: signed-size _meta + sign and verify in the handler (no capframe code)',
        value: `+${fmtUs(signedFloor)}  (${(signedFloor / budget).toFixed(2)} x the signed target)`,
      },
      {
        name: 'floor, session: session-size _meta and answer + session work alone (tight loop)',
        value: `+${fmtUs(sessionFloor)}  (${(sessionFloor / sessionBudget).toFixed(2)} x the session target)`,
      },
      { name: 'CPU per call bare', value: cpuText(cb) },
      { name: 'CPU per call guarded (over bare)', value: cpuText(cg, cb) },
      { name: 'CPU per call session (over bare)', value: cpuText(cs, cb) },
      { name: 'CPU per call bare + signed-size _meta (over bare)', value: cpuText(cm, cb) },
      { name: 'CPU per call bare + session-size _meta (over bare)', value: cpuText(cms, cb) },
      { name: 'CPU per call bare + sign and verify in the handler (over bare)', value: cpuText(cc, cb) },
      {
        name: 'client sign / server check / session work alone, tight loops (p50)',
        value: `${fmtUs(s('client_sign').p50)} / ${fmtUs(s('server_check').p50)} / ${fmtUs(s('session_work').p50)}`,
      },
      { name: 'Ed25519 sign / verify, node:crypto, tight loop (p50)', value: `${fmtUs(ns.p50)} / ${fmtUs(nv.p50)}` },
      { name: 'Ed25519 sign / verify inside a server call (p50)', value: `${fmtUs(serverSign.p50)} / ${fmtUs(serverVerify.p50)}` },
      { name: 'Ed25519 sign / verify right after a client call (p50)', value: `${fmtUs(clientSignAfter.p50)} / ${fmtUs(clientVerifyAfter.p50)}` },
      { name: 'load average 1/5/15 min at start / end', value: `${loadStart.join(' ')} / ${loadEnd.join(' ')}` },
    ];
    return { metrics, rows };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await child.stop();
  }
}

export const mcpSuite: Suite = { name: 'mcp', default: false, run };
