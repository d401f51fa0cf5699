/**
 * Session figures measured in process, beside the tool-calls suite's
 * end-to-end ways (docs/spec.md §13):
 *
 *   session_verify_us     service CPU per session call: SessionTable.check()
 *                         (session lookup, argument digest, HMAC tag, counter
 *                         window, the call rules) plus its answer tag
 *   ed25519_verify_us     one native Ed25519 verify (node:crypto), the unit
 *                         the per-call signed path pays on the service
 *   handshake_us          one whole handshake: nonce, the holder's signed
 *                         hello, the service's checks and signed reply, the
 *                         client's check of the reply, both key derivations
 *   session_bytes         heap per live session (heapUsed delta over many; only
 *                         with node --expose-gc), session_bytes_estimate the table's own figure
 */
import { generateKey, issueToken, Verifier, type PrivateKey, type Token } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { defaultBackend } from '../src/crypto/default.ts';
import { SessionTable } from '../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../src/remote/session-client.ts';

export interface SessionMicro {
  sessionVerifyUs: number;
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
  const authority = generateKey();
  const holder = generateKey();
  const service = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:bench',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
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
  const sealed = Array.from({ length: n * rounds }, (_, i) =>
    s.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `b-${i}` }, 300),
  );
  const sessionVerifyUs = await best(rounds, n, (i) => {
    const c = sealed[i]!.envelope;
    const d = table.check(c);
    // The bench's verifier answers synchronously (no revocation source, in-memory stores).
    if (d instanceof Promise) throw new Error('bench: the session check went asynchronous');
    if (!d.allowed) throw new Error(`bench: session call denied: ${d.code}`);
    return table.answer(c, '{"allowed":true}');
  });

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
  return { sessionVerifyUs, ed25519VerifyUs, handshakeUs, sessionBytes, sessionBytesEstimate };
}
