/**
 * Session figures measured in process, beside the tool-calls suite's
 * end-to-end ways (docs/spec.md §13):
 *
 *   session_verify_us     service CPU per session call: SessionTable.check()
 *                         (session lookup, argument digest, HMAC tag, counter
 *                         window, the call rules) plus its answer tag
 *   session_tag_us        of that, the per-call crypto that replaces the
 *                         Ed25519 verify: the call tag recomputed and compared,
 *                         and the answer tag
 *   session_digest_us     of that, the argument digest (JCS + SHA-256), which
 *                         every path computes (signed, local, session)
 *   session_rules_us      of that, the call rules (rules.ts checkCallNow), the
 *                         same code as an in-process check
 *   session_client_us     client CPU per call: seal (digest, counter, tag)
 *                         plus the answer check (answer tag, decision JSON)
 *   ed25519_verify_us     one native Ed25519 verify (node:crypto), the unit
 *                         the per-call signed path pays on the service
 *   handshake_us          one whole handshake: nonce, the holder's signed
 *                         hello, the service's checks and signed reply, the
 *                         client's check of the reply, both key derivations
 *   session_floor_us      the least per-call crypto the design asks of the
 *                         service, with nothing around it: node:crypto
 *                         HMAC-SHA-256 of the call message (the call tag),
 *                         HMAC-SHA-256 of the answer message (the answer
 *                         tag) and SHA-256 of the arguments' canonical bytes
 *                         (the digest the call tag covers), each timed alone
 *                         on fixed buffers and summed; session_hmac_us is
 *                         the call tag's HMAC alone
 *   session_bytes         heap per live session (heapUsed delta over many; only
 *                         with node --expose-gc), session_bytes_estimate the table's own figure
 */
import { generateKey, Verifier, type PrivateKey, type Token } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { defaultBackend } from '../src/crypto/default.ts';
import { SessionTable } from '../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../src/remote/session-client.ts';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { tagsEqual } from '../src/crypto/session-keys.ts';
import { argsDigestBuffer } from '../src/token/args.ts';
import { sessionAnswerTag, sessionCallTag } from '../src/token/session.ts';
import { checkCallNow } from '../src/verify/rules.ts';
import { decisionToJson } from '../src/remote/decision-json.ts';
import type { SessionAnswer } from '../src/verify/session-table.ts';
import { benchToken } from './support.ts';

export interface SessionMicro {
  sessionVerifyUs: number;
  sessionTagUs: number;
  sessionDigestUs: number;
  sessionRulesUs: number;
  sessionClientUs: number;
  /** One node:crypto HMAC-SHA-256 of a call message (the call tag alone). */
  sessionHmacUs: number;
  /** Call tag + answer tag + argument SHA-256, primitives alone on fixed buffers: the least the service can do per call. */
  sessionFloorUs: number;
  ed25519VerifyUs: number;
  handshakeUs: number;
  /** Measured heap per session; NaN unless node runs with --expose-gc (without it the delta is noise). */
  sessionBytes: number;
  /** The table's own estimate (SessionTable.stats().bytesPerSession). */
  sessionBytesEstimate: number;
}

async function handshake(table: SessionTable, token: Token, holder: PrivateKey, serviceKey: Uint8Array): Promise<ClientSession> {
  const n = table.nonce('bench');
  const p = beginSession(token, holder, { serviceKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  return p.finish(o.reply, o.signature);
}

/** Smallest per-iteration time of `rounds` timed runs (the least disturbed by other processes on a shared machine). */
async function best(rounds: number, n: number, f: (i: number) => unknown): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const x = f(r * n + i);
      if (x instanceof Promise) await x;
    }
    min = Math.min(min, ((performance.now() - t0) * 1000) / n);
  }
  return min;
}

export async function measureSessionMicro(quick: boolean): Promise<SessionMicro> {
  const { authority, holder, token } = benchToken();
  const service = generateKey();
  const verifier = new Verifier({ trusted: [authority.publicKey] });
  const table = new SessionTable({ verifier, signer: keySigner(service), handshakesPerSecond: 1_000_000, maxPerHolder: 1_000_000, maxSessions: 1_000_000 });

  // Ed25519 verify, native.
  const backend = defaultBackend();
  const msg = new Uint8Array(200).fill(7);
  const sig = backend.sign(holder.seed, msg);
  const nv = quick ? 500 : 5_000;
  const ed25519VerifyUs = await best(5, nv, () => backend.verify(holder.publicKey, msg, sig));

  // Per-call service work: calls sealed beforehand (the client's work is not the service's).
  const s = await handshake(table, token, holder, service.publicKey);
  const n = quick ? 2_000 : 20_000;
  const rounds = 5;
  const mk = (i: number, on: ClientSession = s) =>
    on.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `b-${i}` }, 300);
  // Client seal: timed on a session of its own, whose calls are never sent.
  const spare = await handshake(table, token, holder, service.publicKey);
  const sealUs = await best(rounds, n, (i) => mk(10_000_000 + i, spare));
  const sealed = Array.from({ length: n * rounds }, (_, i) => mk(i));
  const answers: SessionAnswer[] = new Array(n * rounds);
  const sessionVerifyUs = await best(rounds, n, (i) => {
    const c = sealed[i]!.envelope;
    const d = table.check(c);
    // The bench's verifier answers synchronously (no revocation source, in-memory stores).
    if (d instanceof Promise) throw new Error('bench: the session check went asynchronous');
    if (!d.allowed) throw new Error(`bench: session call denied: ${d.code}`);
    return table.answer(c, '{"allowed":true}');
  });
  // The client's answer check, on real answers (the decision text the service sends for each call).
  const fresh2 = Array.from({ length: n * rounds }, (_, i) => mk(30_000_000 + i));
  for (let i = 0; i < fresh2.length; i++) {
    const env = fresh2[i]!.envelope;
    answers[i] = table.answer(env, JSON.stringify(decisionToJson(await table.check(env))));
  }
  const openUs = await best(rounds, n, (i) => {
    if (!s.open(fresh2[i]!, answers[i]!).allowed) throw new Error('bench: the answer check refused a real answer');
  });
  const sessionClientUs = sealUs + openUs;

  // The parts of the service's work: per-call crypto, argument digest, rules (same sizes and keys as above).
  const callKey = new Uint8Array(randomBytes(32));
  const answerKey = new Uint8Array(randomBytes(32));
  const sid = new Uint8Array(16);
  const digest0 = argsDigestBuffer({ id: 1 });
  const fields = (i: number) => ({
    counter: i + 1,
    tool: 'get_ticket',
    operation: 'read',
    resource: `tickets://acme/${i}`,
    argsDigest: digest0,
    callId: `b-${i}`,
    exp: 1_800_000_000,
  });
  // The call fields made beforehand, as the service has them from the parsed request.
  const calls = Array.from({ length: n }, (_, i) => fields(i));
  const tags = calls.map((f) => sessionCallTag(callKey, sid, f));
  const sessionTagUs = await best(rounds, n, (i) => {
    const k = i % n;
    const expect = sessionCallTag(callKey, sid, calls[k]!);
    if (!tagsEqual(expect, tags[k]!)) throw new Error('bench: tag');
    return sessionAnswerTag(answerKey, sid, k + 1, expect, '{"allowed":true}');
  });
  const sessionDigestUs = await best(rounds, n, (i) => argsDigestBuffer({ id: i }));
  const chain = verifier.verifyToken(token);
  const now = Math.floor(verifier.clock());
  const replay = { checkAndRecord: () => true };
  const sessionRulesUs = await best(rounds, n, (i) =>
    checkCallNow(
      chain,
      {
        tool: 'get_ticket',
        operation: 'read',
        resource: `tickets://acme/${i}`,
        args: { id: i },
        argsHex: 'ab'.repeat(32),
        callId: `r-${i}`,
        iat: now,
        exp: now + 300,
      },
      { now, skew: verifier.clockSkew, replay, revocation: verifier.revocation, limits: verifier.limits, backend: verifier.backend },
    ),
  );

  // The floor: the primitives alone, on buffers made beforehand (the message sizes of the calls above).
  const callMessage = randomBytes(136);
  const answerMessage = randomBytes(96);
  const argBytes = Buffer.from('{"id":12345}');
  const sessionHmacUs = await best(rounds, n, () => createHmac('sha256', callKey).update(callMessage).digest());
  const sessionShaUs = await best(rounds, n, () => createHash('sha256').update(argBytes).digest());
  const answerHmacUs = await best(rounds, n, () => createHmac('sha256', answerKey).update(answerMessage).digest());
  // Each primitive's best loop, summed: the lowest honest figure for the three together.
  const sessionFloorUs = sessionHmacUs + answerHmacUs + sessionShaUs;

  const nh = quick ? 50 : 300;
  const handshakeUs = await best(3, nh, () => handshake(table, token, holder, service.publicKey));

  // Heap per session: many sessions opened, garbage collected before and after when exposed.
  const gc = (globalThis as { gc?: () => void }).gc;
  const fresh = new SessionTable({ verifier, signer: keySigner(service), handshakesPerSecond: 1_000_000, maxPerHolder: 1_000_000, maxSessions: 1_000_000 });
  gc?.();
  const h0 = process.memoryUsage().heapUsed;
  const ns = quick ? 500 : 5_000;
  for (let i = 0; i < ns; i++) await handshake(fresh, token, holder, service.publicKey);
  gc?.();
  const sessionBytes = gc ? Math.max(0, (process.memoryUsage().heapUsed - h0) / ns) : NaN;
  const sessionBytesEstimate = fresh.stats().bytesPerSession;
  fresh.clear();
  table.clear();
  return {
    sessionVerifyUs,
    sessionTagUs,
    sessionDigestUs,
    sessionRulesUs,
    sessionClientUs,
    sessionHmacUs,
    sessionFloorUs,
    ed25519VerifyUs,
    handshakeUs,
    sessionBytes,
    sessionBytesEstimate,
  };
}
