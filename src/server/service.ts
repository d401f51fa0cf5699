/**
 * The verification service over node:http: the routes (one module each in
 * routes/), the router, and the limits that keep one client from denying
 * service to the others.
 *
 *   POST /v1/verify        token + signed invocation proof + the expected call -> decision JSON (src/server/wire.ts)
 *   POST /v1/verify/batch  {"requests": [...]} -> {"decisions": [...]}: the same, several per round trip
 *   POST /v1/session/*     sessions (docs/spec.md §13): nonce, open (handshake), calls (HMAC-tagged)
 *   GET  /v1/session/stream  Upgrade: capframe-session/1: session calls and answers as JSON lines (§13.7.1)
 *   POST /v1/revoke        admin bearer secret; forwards to the revocation registry
 *   POST/GET /v1/approvals pending approval requests and the approvals posted for them (routes/approvals.ts)
 *   GET  /healthz          {"status":"ok"}
 *   GET  /metrics          Prometheus text
 *   POST /v1/enrolments, /v1/tokens, /v1/disenrol   with an authority (routes/authority.ts)
 *   GET/POST /ui/...       the web console, when given (src/server/console/index.ts)
 *   anything mounted       e.g. the revocation handler (GET /v1/revocations and its push stream)
 *
 * Hostile input: bodies are capped (Content-Length checked before reading,
 * the stream counted while reading), headers and whole requests have
 * deadlines (node's headersTimeout / requestTimeout, checked every second;
 * a connection that sends nothing is closed after the headers deadline),
 * connections are capped in all and per remote address, push streams per
 * remote address, every body is parsed in a try and validated with zod, and
 * every handler is wrapped so that nothing a client sends can throw out of
 * the request callback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Verifier } from '../verify/verifier.ts';
import { STREAM_PATH } from './revocation-feed.ts';
import { Metrics } from './metrics.ts';
import { digest } from './http.ts';
import { createDecider, type EventSink } from './decide.ts';
import { createRouter, type RouteHandler, type RouteTable } from './router.ts';
import { limitConnectionsPerAddress, limitStreamsPerAddress } from './limits.ts';
import { verifyRoute } from './routes/verify.ts';
import { verifyBatchRoute } from './routes/verify-batch.ts';
import { revokeRoute, type RevokeFn } from './routes/revoke.ts';
import { revocationCheckRoute, type RevocationLookup } from './routes/revocation-check.ts';
import { healthRoute, metricsRoute } from './routes/health.ts';
import { sessionCallsRoute, sessionNonceRoute, sessionOpenRoute } from './routes/session.ts';
import { sessionStreams, type SessionStreamOptions } from './routes/session-stream.ts';
import { SessionTable, type SessionTableOptions } from '../verify/session-table.ts';
import { approvalsRoute } from './routes/approvals.ts';
import type { ApprovalInbox } from './approval-inbox.ts';
import type { Console } from './console/index.ts';
import { LoginLimiter } from './login-limiter.ts';

export { checkBearer } from './http.ts';
export type { EventSink } from './decide.ts';
export type { RouteHandler } from './router.ts';
export type { RevokeFn } from './routes/revoke.ts';

export interface VerifyServiceOptions {
  readonly verifier: Verifier;
  /** Every /v1/verify decision is written here. If writing fails the call is denied (ERR_UNAVAILABLE). */
  readonly audit?: EventSink;
  /** Also sent every decision, after the audit log (SIEM and tracing exports). They never block or change a decision. */
  readonly exports?: readonly ((event: Record<string, unknown>) => void)[];
  /** Export sinks whose queue statistics /metrics shows. */
  readonly exportStats?: readonly { readonly name: string; readonly stats: { sent: number; dropped: number; errors: number; readonly queued: number } }[];
  /** Bearer secret for POST /v1/revoke. Without one, every revoke request gets 401. */
  readonly adminSecret?: string;
  readonly revoke?: RevokeFn;
  /** POST /v1/revocation/check: the exact answer for compact-form verifiers (§10.9); 501 without it. */
  readonly revocationLookup?: RevocationLookup;
  /** Collects approvals for a UI (POST/GET /v1/approvals); without one those answer 501. */
  readonly approvals?: ApprovalInbox;
  /** More routes by exact path (e.g. the authority's, src/server/routes/authority.ts); built-in paths win. */
  /** Extra routes; as a function, given the metrics and the limiter of admin-secret guesses (shared by every admin route). */
  readonly routes?: RouteTable | ((metrics: Metrics, adminLimiter: LoginLimiter) => RouteTable);
  /** Extra handlers tried, in order, for requests no built-in route takes. */
  readonly handlers?: readonly RouteHandler[];
  /** Largest request body in bytes. Default 64 KiB. */
  readonly bodyLimit?: number;
  /** Largest /v1/verify/batch body in bytes. Default 1 MiB. */
  readonly batchBodyLimit?: number;
  /** Most requests in one /v1/verify/batch. Default 64. */
  readonly maxBatch?: number;
  /** Deadline for receiving a whole request (headers and body), ms. Default 10 000. */
  readonly requestTimeout?: number;
  /** Deadline for receiving the request headers (and a new connection's first byte), ms. Default 5 000. */
  readonly headersTimeout?: number;
  /** Idle keep-alive connections are closed after this many ms. Default 5 000. */
  readonly keepAliveTimeout?: number;
  /** Open connections at most. Default 1024. */
  readonly maxConnections?: number;
  /** Open connections per remote address at most. Default: a quarter of maxConnections. */
  readonly maxConnectionsPerAddress?: number;
  /** Revocation push streams per remote address at most. Default 8. */
  readonly maxStreamsPerAddress?: number;
  /**
   * Sessions (docs/spec.md §13): the service key that signs handshake replies
   * (its public key is what clients pin) and the session caps. Without it,
   * /v1/session/* answers 404.
   */
  readonly sessions?: Omit<SessionTableOptions, 'verifier'>;
  /** Caps of the stream binding of session calls (§13.7.1; only with `sessions`). Line length defaults to `bodyLimit`. */
  readonly sessionStreams?: SessionStreamOptions;
  /** The web console (createConsole, src/server/console/): mounted at /ui and fed every decision. */
  readonly console?: Console;
}

export interface VerifyService {
  readonly server: Server;
  readonly metrics: Metrics;
  /** The live sessions, when sessions are on. */
  readonly sessions: SessionTable | undefined;
  /** Listens (default 127.0.0.1, port 0 = any free port) and resolves with the base URL. */
  listen(port?: number, host?: string): Promise<{ url: string; port: number; host: string }>;
  close(): Promise<void>;
}

export function createVerifyService(o: VerifyServiceOptions): VerifyService {
  const bodyLimit = o.bodyLimit ?? 64 * 1024;
  const metrics = new Metrics();
  // One count of admin-secret guesses for every route that takes the secret (console logins included).
  const adminLimiter = o.console?.limiter ?? new LoginLimiter(5, 50, 60_000);
  const decider = createDecider(o.verifier, metrics, o.audit, o.exports, o.console?.record);
  if (o.exportStats) metrics.exports = o.exportStats;
  if (o.console) metrics.console = o.console.stats;
  const maxStreams = o.maxStreamsPerAddress ?? 8;
  const sessions = o.sessions ? new SessionTable({ ...o.sessions, verifier: o.verifier }) : undefined;
  if (sessions) metrics.sessions = sessions;
  const batchBodyLimit = o.batchBodyLimit ?? 1024 * 1024;
  const handle = createRouter(
    {
      ...(sessions
        ? {
            '/v1/session/nonce': { method: 'POST', route: sessionNonceRoute(sessions) },
            '/v1/session/open': { method: 'POST', route: sessionOpenRoute(sessions, bodyLimit) },
            '/v1/session/calls': { method: 'POST', route: sessionCallsRoute(sessions, decider, metrics, batchBodyLimit) },
          }
        : {}),
      ...(typeof o.routes === 'function' ? o.routes(metrics, adminLimiter) : o.routes),
      '/v1/verify': { method: 'POST', route: verifyRoute(decider, bodyLimit) },
      '/v1/verify/batch': { method: 'POST', route: verifyBatchRoute(decider, metrics, batchBodyLimit, o.maxBatch ?? 64) },
      '/v1/revoke': {
        method: 'POST',
        route: revokeRoute(o.revoke, o.adminSecret ? digest(o.adminSecret) : null, metrics, bodyLimit, adminLimiter),
      },
      '/v1/revocation/check': { method: 'POST', route: revocationCheckRoute(o.revocationLookup, bodyLimit) },
      '/v1/approvals': { route: approvalsRoute(o.approvals, o.adminSecret ? digest(o.adminSecret) : null, metrics, bodyLimit, adminLimiter) },
      '/healthz': { route: healthRoute() },
      '/metrics': { route: metricsRoute(metrics) },
    },
    [...(o.console ? [o.console.handler] : []), ...(o.handlers ?? []).map((h) => limitStreamsPerAddress(h, [STREAM_PATH], maxStreams, metrics))],
    metrics,
  );

  const requestTimeout = o.requestTimeout ?? 10_000;
  const headersTimeout = Math.min(o.headersTimeout ?? 5_000, requestTimeout);
  const server = createServer(
    {
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: o.keepAliveTimeout ?? 5_000,
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      handle(req, res).catch(() => {
        try {
          res.destroy();
        } catch {
          /* gone */
        }
      });
    },
  );
  server.maxConnections = o.maxConnections ?? 1024;
  // With sessions on, every upgrade comes here: the session stream, and a refusal for any other path or protocol.
  // Without them there is no listener, so node hands an upgrade request to the router like any other (404 for the stream).
  const streams = sessions ? sessionStreams(sessions, decider, metrics, { maxLine: bodyLimit, ...o.sessionStreams }) : undefined;
  if (streams) {
    server.on('upgrade', streams.upgrade);
    metrics.sessionStreams = streams;
  }
  limitConnectionsPerAddress(server, o.maxConnectionsPerAddress ?? Math.max(1, Math.floor(server.maxConnections / 4)), headersTimeout, metrics);
  // A socket-level error (garbage instead of HTTP, a reset) never reaches the process.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    metrics.rejected(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'bad_http');
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const status =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? '431 Request Header Fields Too Large'
            : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  return {
    server,
    metrics,
    sessions,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ url: `http://${h}:${a.port}`, port: a.port, host: a.address });
        });
      });
    },
    close() {
      o.console?.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // Upgraded sockets are no longer the server's connections: ended here.
        streams?.closeAll();
      });
    },
  };
}
