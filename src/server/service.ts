/**
 * The verification service over node:http.
 *
 *   POST /v1/verify    token + signed invocation proof + arguments -> decision JSON (src/server/wire.ts)
 *   POST /v1/verify/batch  {"requests": [...]} -> {"decisions": [...]}: the same, several per round trip
 *   POST /v1/revoke    admin bearer secret; forwards to the revocation registry
 *   GET  /healthz      {"status":"ok"}
 *   GET  /metrics      Prometheus text
 *   anything mounted   e.g. the revocation handler (GET /v1/revocations and its push stream)
 *
 * Hostile input: bodies are capped (Content-Length checked before reading,
 * the stream counted while reading), headers and whole requests have
 * deadlines (node's headersTimeout / requestTimeout, checked every second),
 * connections are capped, every body is parsed in a try and validated with
 * zod, and every handler is wrapped so that nothing a client sends can
 * throw out of the request callback. Verification is synchronous CPU work of
 * tens of microseconds per request, so one slow or huge client cannot hold
 * the event loop for others.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { CapframeError, UnavailableError, type ErrorCode } from '../errors.ts';
import type { Decision, Verifier } from '../verify/verifier.ts';
import { verifyInvocationSync } from '../verify/sync.ts';
import { Metrics } from './metrics.ts';
import { batchItemRequestSchema, decisionToJson, MAX_BATCHES_PER_REQUEST, signedBatchSchema, verifyRequestSchema } from '../remote/wire.ts';
import { Invocation } from '../token/invocation.ts';
import type { BatchParts } from '../token/invocation-batch.ts';
import { decodeBase64url } from '../encoding/base64url.ts';

/** Anything that takes decision events: an AuditLog, a function, a LangChain DecisionSink. */
export type EventSink = ((event: Record<string, unknown>) => unknown)
  | { write(event: Record<string, unknown>): unknown; writeMany?(events: readonly Record<string, unknown>[]): unknown };

/** Mounted request handler: returns true when it handled (or is handling) the request. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What POST /v1/revoke does with an authenticated body. Throw a CapframeError to refuse it (400). */
export type RevokeFn = (body: unknown) => unknown | Promise<unknown>;

export interface VerifyServiceOptions {
  readonly verifier: Verifier;
  /** Every /v1/verify decision is written here. If writing fails the call is denied (ERR_UNAVAILABLE). */
  readonly audit?: EventSink;
  /** Bearer secret for POST /v1/revoke. Without one, every revoke request gets 401. */
  readonly adminSecret?: string;
  readonly revoke?: RevokeFn;
  /** Extra handlers tried, in order, for requests no built-in route takes. */
  readonly handlers?: readonly RouteHandler[];
  /** Largest request body in bytes. Default 64 KiB. */
  readonly bodyLimit?: number;
  /** Largest /v1/verify/batch body in bytes. Default 1 MiB. */
  readonly batchBodyLimit?: number;
  /** Most requests in one /v1/verify/batch. Default 64. */
  readonly maxBatch?: number;
  /** Deadline for receiving a whole request, ms. Default 10 000. */
  readonly requestTimeout?: number;
  /** Deadline for receiving the request headers, ms. Default 5 000. */
  readonly headersTimeout?: number;
  /** Idle keep-alive connections are closed after this many ms. Default 5 000. */
  readonly keepAliveTimeout?: number;
  /** Open connections at most. Default 1024. */
  readonly maxConnections?: number;
}

export interface VerifyService {
  readonly server: Server;
  readonly metrics: Metrics;
  /** Listens (default 127.0.0.1, port 0 = any free port) and resolves with the base URL. */
  listen(port?: number, host?: string): Promise<{ url: string; port: number; host: string }>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode, message: string, readonly reason = 'invalid_body') {
    super(message);
  }
}

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time check of an `Authorization: Bearer …` header against the admin secret. */
export function checkBearer(header: string | undefined, secretDigest: Buffer | null): boolean {
  if (!secretDigest) return false;
  const m = typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
  // Always hash and compare (equal-length digests), so timing says nothing about the secret.
  const given = digest(m ? m[1]! : '');
  return timingSafeEqual(given, secretDigest) && m !== null;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, 'ERR_TOO_LARGE', `request body is larger than ${limit} bytes`, 'too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(new HttpError(413, 'ERR_TOO_LARGE', `request body is larger than ${limit} bytes`, 'too_large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks, size)); } });
    req.on('error', (e) => { if (!done) { done = true; reject(new HttpError(400, 'ERR_MALFORMED', `request failed: ${e.message}`, 'aborted')); } });
    req.on('close', () => { if (!done) { done = true; reject(new HttpError(400, 'ERR_MALFORMED', 'request aborted', 'aborted')); } });
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'ERR_MALFORMED', 'request body is not valid JSON', 'malformed_json');
  }
}

function zodMessage(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const i = issues[0];
  if (!i) return 'invalid request body';
  const where = i.path.length ? i.path.map(String).join('.') : 'body';
  return `${where}: ${i.message}`.slice(0, 300);
}

/** Writes events one by one through a single-event sink, waiting for each when it is asynchronous. */
async function writeEach(events: Record<string, unknown>[], write: (e: Record<string, unknown>) => unknown): Promise<void> {
  for (const e of events) {
    const w = write(e);
    if (w instanceof Promise) await w;
  }
}

/** A validated batch item request; `args` stays the caller's own object (JSON.parse output). */
type BatchItemRequestShape = { token: string; tool: string; args: Record<string, unknown>; operation?: string; resource?: string };

export function createVerifyService(o: VerifyServiceOptions): VerifyService {
  const { verifier } = o;
  const bodyLimit = o.bodyLimit ?? 64 * 1024;
  const batchBodyLimit = o.batchBodyLimit ?? 1024 * 1024;
  const maxBatch = o.maxBatch ?? 64;
  const metrics = new Metrics();
  const secretDigest = o.adminSecret ? digest(o.adminSecret) : null;
  const handlers = o.handlers ?? [];
  const audit = o.audit;

  // The audit writer, chosen once: all lines of a request in one call when the sink can (AuditLog.writeMany).
  const writeEvents: ((events: Record<string, unknown>[]) => unknown) | null =
    audit === undefined ? null
      : typeof audit === 'function' ? (events) => writeEach(events, audit)
      : typeof audit.writeMany === 'function' ? (events) => audit.writeMany!(events)
      : (events) => writeEach(events, (e) => audit.write(e));

  type Item = { token: string; invocation: string | Invocation; tool: string; args: Record<string, unknown>; operation?: string; resource?: string };

  /** One validated request to its decision (not audited yet). Never throws. */
  function check(r: Item): Decision | Promise<Decision> {
    // The token as text: the verifier caches verified chains by their text.
    return verifier[verifyInvocationSync](r.token, r.invocation, {
      tool: r.tool, args: r.args,
      ...(r.operation !== undefined ? { operation: r.operation } : {}),
      ...(r.resource !== undefined ? { resource: r.resource } : {}),
    });
  }

  /** An allow whose audit line could not be written becomes a denial. */
  function auditFailed(d: Decision, e: unknown): Decision {
    if (!d.allowed) return d;
    const error = new UnavailableError('the audit log cannot be written; call denied', { cause: e });
    const { grant: _g, expiresAt: _e, ...rest } = d;
    return { ...rest, allowed: false, code: error.code, reason: error.message, error };
  }

  /**
   * Audits and counts decisions, in order. Lines of one request are written
   * together (one write(2) with an AuditLog) before any of them is answered;
   * if writing fails, every allow among them becomes ERR_UNAVAILABLE.
   */
  async function settle(decisions: Decision[], t0s: bigint[]): Promise<Decision[]> {
    const now = process.hrtime.bigint();
    const seconds = t0s.map((t0) => Number(now - t0) / 1e9);
    if (writeEvents) {
      try {
        const w = writeEvents(decisions.map((d, i) => ({ ...d, source: 'service', latencyMs: seconds[i]! * 1000 })));
        if (w instanceof Promise) await w;
      } catch (e) {
        metrics.rejected('audit_failed');
        decisions = decisions.map((d) => auditFailed(d, e));
      }
    }
    decisions.forEach((d, i) => metrics.decision(d.allowed, d.allowed ? undefined : d.code, seconds[i]!));
    return decisions;
  }

  async function verify(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const body = await readBody(req, bodyLimit);
    const t0 = process.hrtime.bigint();
    const json = parseJson(body);
    const parsed = verifyRequestSchema.safeParse(json);
    if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
    // The validated shape, but the caller's own args object (JSON.parse output), never a rebuilt copy.
    const d = check(json as Item);
    const [settled] = await settle([d instanceof Promise ? await d : d], [t0]);
    send(res, 200, decisionToJson(settled!));
    return 200;
  }

  /**
   * POST /v1/verify/batch {"requests": [req, ...]} -> {"decisions": [decision, ...]} in the same order.
   * An element that is not a valid request gets {"allowed": false, "code": "ERR_MALFORMED", ...}.
   * At most `maxBatch` elements, so one batch holds the event loop for a few ms at most.
   */
  async function verifyBatch(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const body = await readBody(req, batchBodyLimit);
    const json = parseJson(body) as { requests?: unknown; batches?: unknown };
    const keys = typeof json === 'object' && json !== null && !Array.isArray(json) ? Object.keys(json) : [];
    if (!Array.isArray(json?.requests) || keys.some((k) => k !== 'requests' && k !== 'batches') || (json.batches !== undefined && !Array.isArray(json.batches))) {
      throw new HttpError(400, 'ERR_MALFORMED', 'a batch is {"requests": [...], "batches"?: [...]}');
    }
    const items = json.requests;
    if (items.length === 0 || items.length > maxBatch) throw new HttpError(400, 'ERR_MALFORMED', `a batch holds 1 to ${maxBatch} requests`);
    const rawBatches = (json.batches ?? []) as unknown[];
    if (rawBatches.length > MAX_BATCHES_PER_REQUEST) throw new HttpError(400, 'ERR_MALFORMED', `a batch request holds at most ${MAX_BATCHES_PER_REQUEST} signed batches`);
    // Each signed batch is decoded and checked once; a bad one denies the requests that refer to it.
    const batches: (BatchParts | string)[] = rawBatches.map((b) => {
      const parsed = signedBatchSchema.safeParse(b);
      if (!parsed.success) return `signed batch: ${zodMessage(parsed.error.issues)}`;
      try {
        return Invocation.batchParts(decodeBase64url(parsed.data.payload), decodeBase64url(parsed.data.signature));
      } catch (e) {
        return `signed batch: ${(e as Error).message}`;
      }
    });
    const out: Record<string, unknown>[] = [];
    const decisions: Decision[] = [];
    const t0s: bigint[] = [];
    const slots: number[] = [];
    const malformed = (reason: string) => {
      metrics.rejected('invalid_body');
      out.push({ allowed: false, code: 'ERR_MALFORMED', reason });
    };
    for (const item of items) {
      const t0 = process.hrtime.bigint();
      let request: Item;
      if (typeof item === 'object' && item !== null && 'batch' in item) {
        const parsed = batchItemRequestSchema.safeParse(item);
        if (!parsed.success) { malformed(zodMessage(parsed.error.issues)); continue; }
        const parts = batches[parsed.data.batch];
        if (parts === undefined) { malformed(`batch: no signed batch ${parsed.data.batch} in this request`); continue; }
        if (typeof parts === 'string') { malformed(parts); continue; }
        let proof: Invocation;
        try {
          proof = Invocation.fromBatchItem(decodeBase64url(parsed.data.item), parts, parsed.data.index);
        } catch (e) {
          malformed(`item: ${(e as Error).message}`);
          continue;
        }
        request = { ...(item as BatchItemRequestShape), invocation: proof };
      } else {
        const parsed = verifyRequestSchema.safeParse(item);
        if (!parsed.success) { malformed(zodMessage(parsed.error.issues)); continue; }
        request = item as Item;
      }
      const d = check(request);
      decisions.push(d instanceof Promise ? await d : d);
      t0s.push(t0);
      slots.push(out.length);
      out.push({});
    }
    const settled = await settle(decisions, t0s);
    settled.forEach((d, i) => { out[slots[i]!] = decisionToJson(d); });
    send(res, 200, { decisions: out });
    return 200;
  }

  async function revoke(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (!checkBearer(req.headers.authorization, secretDigest)) {
      metrics.rejected('unauthorized');
      send(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'a valid admin bearer secret is required' }, { 'www-authenticate': 'Bearer', connection: 'close' });
      return 401;
    }
    if (!o.revoke) throw new HttpError(501, 'ERR_CONFIG', 'revocation is not configured on this service', 'not_configured');
    const json = parseJson(await readBody(req, bodyLimit));
    try {
      const result = await o.revoke(json);
      send(res, 200, result ?? { ok: true });
      return 200;
    } catch (e) {
      if (e instanceof CapframeError && e.code !== 'ERR_INTERNAL' && e.code !== 'ERR_UNAVAILABLE') {
        throw new HttpError(400, e.code, e.message);
      }
      throw e;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let route = path;
    metrics.inFlight++;
    let status = 500;
    try {
      if (path === '/v1/verify') {
        if (req.method !== 'POST') throw new HttpError(405, 'ERR_MALFORMED', 'use POST', 'method');
        status = await verify(req, res);
      } else if (path === '/v1/verify/batch') {
        if (req.method !== 'POST') throw new HttpError(405, 'ERR_MALFORMED', 'use POST', 'method');
        status = await verifyBatch(req, res);
      } else if (path === '/v1/revoke') {
        if (req.method !== 'POST') throw new HttpError(405, 'ERR_MALFORMED', 'use POST', 'method');
        status = await revoke(req, res);
      } else if (path === '/healthz') {
        send(res, 200, { status: 'ok' });
        status = 200;
      } else if (path === '/metrics') {
        send(res, 200, metrics.render());
        status = 200;
      } else {
        for (const h of handlers) {
          if (h(req, res)) { status = 0; route = 'mounted'; return; }
        }
        route = 'other';
        throw new HttpError(404, 'ERR_MALFORMED', 'no such endpoint', 'not_found');
      }
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        metrics.rejected(e.reason);
        const close = e.status === 413 || e.reason === 'aborted';
        send(res, e.status, { allowed: false, code: e.code, reason: e.message }, close ? { connection: 'close' } : {});
        if (close) res.on('finish', () => req.destroy());
      } else {
        status = 500;
        metrics.rejected('internal');
        send(res, 500, { allowed: false, code: 'ERR_INTERNAL', reason: 'internal error' });
      }
    } finally {
      metrics.inFlight--;
      if (status) metrics.request(route.startsWith('/v1/') || route === '/healthz' || route === '/metrics' ? route : 'other', status);
    }
  }

  const requestTimeout = o.requestTimeout ?? 10_000;
  const server = createServer({
    requestTimeout,
    headersTimeout: Math.min(o.headersTimeout ?? 5_000, requestTimeout),
    keepAliveTimeout: o.keepAliveTimeout ?? 5_000,
    connectionsCheckingInterval: 1_000,
    maxHeaderSize: 16 * 1024,
  }, (req, res) => {
    handle(req, res).catch(() => { try { res.destroy(); } catch { /* gone */ } });
  });
  server.maxConnections = o.maxConnections ?? 1024;
  // A socket-level error (garbage instead of HTTP, a reset) never reaches the process.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    metrics.rejected(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'bad_http');
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  return {
    server,
    metrics,
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
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
