/**
 * The MCP servers of the mcp bench suite (bench/mcp.ts), in a child process of
 * their own so that the client's and the server's CPU time per call can be
 * told apart (process.cpuUsage is per process). Driven over the IPC channel:
 *
 *   parent -> { type: 'start', authority, serviceKey, answerPad }   child -> { type: 'ready', urls }
 *   parent -> { type: 'cpu', id }                                   child -> { type: 'cpu', id, us }
 *   parent -> { type: 'crypto', id }                                child -> { type: 'crypto', id, sign, verify } (samples, us)
 *   parent -> { type: 'threads', id }                               child -> { type: 'threads', id, main, other } (CPU ns: main thread, all other threads)
 *   parent -> { type: 'stop' }                                      child exits
 *
 * Three Streamable HTTP endpoints on 127.0.0.1, each with the no-op tool `noop`:
 *  - bare: no capframe; also `noop_pad`, whose result carries an inert `_meta`
 *    entry as large as a session answer (what the answer's bytes cost), and
 *    `noop_crypto`, whose handler times one node:crypto Ed25519 sign and
 *    verify where the guard's check runs: inside the server's handling of a
 *    call, caches shared with the MCP and HTTP code (not a tight loop);
 *  - guarded: signed proofs (guardMcpServer on its own Verifier);
 *  - session: sessions (a SessionTable on a second Verifier) and signed proofs.
 */
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { parsePrivateKey, parsePublicKey, type PrivateKey } from '../src/crypto/keys.ts';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../src/index.ts';
import { keySigner } from '../src/crypto/signer.ts';
import { Verifier } from '../src/verify/verifier.ts';
import { SessionTable } from '../src/verify/session-table.ts';
import { guardMcpServer } from '../src/mcp/index.ts';
import { serveHttp, type HttpEndpoint } from '../examples/mcp/http.ts';

export interface StartMessage {
  type: 'start';
  /** The authority's public key (cfk1.). */
  authority: string;
  /** The session key file's JSON text (a bench key, generated for this run). */
  serviceKey: string;
  /** Characters of padding in `noop_pad`'s result `_meta`. */
  answerPad: number;
}

export type ServerUrls = Record<'bare' | 'guarded' | 'session', string>;

export const BENCH_POLICIES = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };

/** The parents' keys and token: an authority, a holder with its token for noop://bench/*, a session service key, and the child's start message. */
export function benchIdentity(): { authority: PrivateKey; holder: PrivateKey; serviceKey: PrivateKey; token: string; start: StartMessage } {
  const authority = generateKey();
  const holder = generateKey();
  const serviceKey = generateKey();
  const token = String(
    issueToken({
      key: authority,
      subject: 'agent:bench',
      holder: holder.publicKey,
      ttl: '1h',
      grants: [{ resource: 'noop://bench/*', permissions: ['read'] }],
    }),
  );
  const start: StartMessage = { type: 'start', authority: formatPublicKey(authority.publicKey), serviceKey: serializePrivateKey(serviceKey), answerPad: 400 };
  return { authority, holder, serviceKey, token, start };
}

const KEYS = generateKeyPairSync('ed25519');
const MESSAGE = Buffer.alloc(200, 7);
const PLAIN_SIG = nodeSign(null, MESSAGE, KEYS.privateKey);
/** Ed25519 sign and verify timed inside `noop_crypto` calls, microseconds. */
const inContext = { sign: [] as number[], verify: [] as number[] };

function noopServer(guard: ((s: McpServer) => void) | undefined, answerPad = 0): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  guard?.(server);
  server.registerTool('noop', { inputSchema: { id: z.string() } }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  if (answerPad > 0) {
    server.registerTool('noop_crypto', { inputSchema: { id: z.string() } }, async () => {
      const t0 = process.hrtime.bigint();
      const sig = nodeSign(null, MESSAGE, KEYS.privateKey);
      const t1 = process.hrtime.bigint();
      const ok = nodeVerify(null, MESSAGE, KEYS.publicKey, sig);
      const t2 = process.hrtime.bigint();
      inContext.sign.push(Number(t1 - t0) / 1000);
      inContext.verify.push(Number(t2 - t1) / 1000);
      return { content: [{ type: 'text', text: ok ? 'ok' : 'bad' }] };
    });
    const pad = { counter: 1, decision: 'x'.repeat(answerPad), tag: 'y'.repeat(43) };
    server.registerTool('noop_pad', { inputSchema: { id: z.string() } }, async () => ({
      content: [{ type: 'text', text: 'ok' }],
      _meta: { 'bench.pad/v1': { session: pad } },
    }));
  }
  return server;
}

async function start(m: StartMessage): Promise<{ urls: ServerUrls; close(): Promise<void> }> {
  const trusted = [parsePublicKey(m.authority)];
  const verifier = new Verifier({ trusted, replayCapacity: 1_000_000 });
  if (process.env.CAPFRAME_BENCH_TIME_VERIFY) {
    // In-context cost of the check (bench/mcp-profile.ts): CPU time of verifyInvocation inside a real call.
    const inner = verifier.verifyInvocation.bind(verifier);
    verifier.verifyInvocation = async (...a) => {
      // A plain node:crypto verify (cached KeyObject) first, in the same context: the scale.
      const t1 = process.cpuUsage();
      nodeVerify(null, MESSAGE, KEYS.publicKey, PLAIN_SIG);
      const d1 = process.cpuUsage(t1);
      inContext.sign.push(d1.user + d1.system);
      const t0 = process.cpuUsage();
      const p = inner(...a);
      const d = process.cpuUsage(t0);
      inContext.verify.push(d.user + d.system);
      return p;
    };
  }
  const sessionVerifier = new Verifier({ trusted, replayCapacity: 1_000_000 });
  const table = new SessionTable({ verifier: sessionVerifier, signer: keySigner(parsePrivateKey(m.serviceKey)) });
  const policies = BENCH_POLICIES;
  const eps: HttpEndpoint[] = [
    await serveHttp(() => noopServer(undefined, m.answerPad)),
    await serveHttp(() => noopServer((s) => guardMcpServer(s, { verifier, policies }))),
    await serveHttp(() => noopServer((s) => guardMcpServer(s, { verifier: sessionVerifier, policies, sessions: table }))),
  ];
  return {
    urls: { bare: String(eps[0]!.url), guarded: String(eps[1]!.url), session: String(eps[2]!.url) },
    async close() {
      for (const e of eps) await e.close();
    },
  };
}

/**
 * CPU time of this process's main thread and of all its other threads (V8's
 * compiler and GC workers, libuv's pool, a loader thread), nanoseconds, from
 * /proc (Linux; zeros elsewhere): process.cpuUsage() sums every thread.
 */
export function threadCpuNs(): { main: number; other: number } {
  let main = 0;
  let other = 0;
  try {
    for (const t of readdirSync('/proc/self/task')) {
      const ns = Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(t) === process.pid) main += ns;
      else other += ns;
    }
  } catch {
    // Not Linux: no split.
  }
  return { main, other };
}

// Only as the forked entry (bench/mcp.ts imports the types and policies from here).
if (process.send && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let running: Awaited<ReturnType<typeof start>> | undefined;
  process.on('message', (m: { type: string; id?: number } & Partial<StartMessage>) => {
    if (m.type === 'start') {
      void start(m as StartMessage).then(
        (r) => {
          running = r;
          process.send!({ type: 'ready', urls: r.urls });
        },
        (e: unknown) => process.send!({ type: 'error', message: String((e as Error)?.message ?? e) }),
      );
    } else if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ type: 'cpu', id: m.id, us: u.user + u.system });
    } else if (m.type === 'threads') {
      process.send!({ type: 'threads', id: m.id, ...threadCpuNs() });
    } else if (m.type === 'crypto') {
      process.send!({ type: 'crypto', id: m.id, ...inContext });
    } else if (m.type === 'stop') {
      void (running?.close() ?? Promise.resolve()).finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
