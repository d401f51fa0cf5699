/**
 * The web console of `capframe serve`, mounted at /ui (docs/operations.md,
 * Console). Pages: live decisions (SSE), delegation trees, revocations
 * (with a revoke action), token inspector, agents, audit checkpoint.
 *
 *   GET  /ui/, /ui/*.js|css, /ui/vendor/{preact,htm}.js   static, from memory
 *   GET  /ui/api/session           whether a login is needed / held (and the CSRF token)
 *   POST /ui/api/login             {"secret"} -> session cookie (HttpOnly, SameSite=Strict, Path=/ui)
 *   POST /ui/api/logout
 *   GET  /ui/api/decisions[/stream] recent decisions; the live stream (Server-Sent Events)
 *   GET  /ui/api/trees, /ui/api/revocations, /ui/api/agents, /ui/api/checkpoint
 *   POST /ui/api/revoke            {"id"} | {"subject"} | {"kid","before"}, optional "reason"
 *   POST /ui/api/inspect           {"token"}: decoded blocks (nothing kept, nothing logged)
 *
 * Read views need the login unless `views: public`; every POST needs the
 * session, its CSRF token (header x-capframe-csrf), a same-origin Origin and
 * a JSON body. The decision path only pushes each decision into a ring; a
 * timer drains it (stamps, shapes, feeds the trees and the streams).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Decision } from '../../verify/verifier.ts';
import { inspect } from '../../token/inspect.ts';
import { toCapframeError } from '../../error-codes.ts';
import { checkCheckpoint } from '../../audit/checkpoint.ts';
import type { RevocationState } from '../../revocation/state.ts';
import type { RegistryPage, RegistryView } from '../../revocation/registry.ts';
import type { Agent } from '../../authority/enrolments.ts';
import { digest, HttpError, parseJson, readBody, zodMessage } from '../http.ts';
import type { RevokeFn } from '../routes/revoke.ts';
import { revokeTargetSchema } from '../revocation.ts';
import type { EventSink } from '../decide.ts';
import { loadAssets, SECURITY_HEADERS, type Asset } from './assets.ts';
import { DecisionRing } from './ring.ts';
import { decisionView, text, type DecisionView } from './view.ts';
import { Forest, type ForestNode } from './forest.ts';
import { sseEvent, StreamHub } from './stream.ts';
import { sameSecret, sameToken, SessionStore, type ConsoleSession } from './sessions.ts';
import { LoginLimiter } from '../login-limiter.ts';

export const CONSOLE_PATH = '/ui';
export const SESSION_COOKIE = 'capframe_console';
export const CSRF_HEADER = 'x-capframe-csrf';

export interface ConsoleOptions {
  /** The admin bearer secret (the one /v1/revoke takes). Without it nobody can log in. */
  readonly adminSecret?: string;
  /** Who sees the read-only pages: `login` (default) or `public` (anyone who reaches the port; actions still need the login). */
  readonly views?: 'login' | 'public';
  /** Session lifetime, ms. Default 8 h. */
  readonly sessionTtl?: number;
  /** Live sessions at most (a new one ends the oldest). Default 32. */
  readonly maxSessions?: number;
  /** Open live-decision streams at most. Default 16. */
  readonly maxStreams?: number;
  /** Unsent bytes per stream before that reader is dropped. Default 256 KiB. */
  readonly maxStreamBuffer?: number;
  /** Decisions kept for the page (ring capacity). Default 1024. */
  readonly recent?: number;
  /** Delegation-tree nodes kept. Default 5000. */
  readonly maxNodes?: number;
  /** The origin browsers use (e.g. https://capframe.example behind a TLS proxy): the only Origin accepted on POSTs, and cookies get Secure when https. */
  readonly publicOrigin?: string;
  /** Host names the console answers under besides localhost, IP literals and the publicOrigin's host (the service passes its bind host). Any other Host header gets 421: a DNS-rebinding page cannot read the console. */
  readonly hosts?: readonly string[];
  /** Failed logins per client address per minute before 429. Default 5. */
  readonly loginFailuresPerAddress?: number;
  /** Failed logins per minute over all addresses past which only addresses without a failure may try. Default 50. */
  readonly loginFailuresTotal?: number;
  readonly revocation?: {
    readonly revoke: RevokeFn;
    readonly state: RevocationState;
    /** The registry's version: pages read from it are kept until it changes. */
    version(): number;
    /** A bounded read (RevocationRegistry.page). */
    page(limit: number): RegistryPage;
    view(sinceSeq?: number): RegistryView;
  };
  readonly authority?: { readonly audience: string; agents(limit: number): { total: number; agents: Agent[] } };
  readonly audit?: {
    readonly head: { seq: number };
    readonly lastCheckpoint: { seq: number; at: number; time: string; kid?: string; head?: string; sig?: string } | null;
    readonly checkpointFailures: number;
    /** Public key the checkpoints are signed with (they are re-verified before the page calls one verified). */
    readonly checkpointKey?: Uint8Array;
  };
  /**
   * Where console logins, refused logins, logouts and revokes are recorded
   * (the service's audit log): source `console`, subject `admin`, the client
   * address as resource; revokes with mode `console`. Never the secret.
   */
  readonly auditSink?: EventSink;
  /** Static files to serve instead of the built page (tests). */
  readonly assets?: Map<string, Asset>;
  /** Where the built page is read from. Default dist/ui/ of this package. */
  readonly pageDir?: string;
  /** Drain interval, ms. Default 100. */
  readonly drainMs?: number;
}

export interface Console {
  /** Called with every settled decision: one array store (DecisionRing.push). */
  readonly record: (d: Decision) => void;
  /** A root token the authority issued. */
  issued(t: { tokenId: string; subject: string; grants: readonly unknown[]; expiresAt: number }): void;
  /** The /ui mount: true when it took the request. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Guesses of the admin secret: shared with POST /v1/revoke, which takes the same secret. */
  readonly limiter: LoginLimiter;
  readonly stats: { readonly streams: { clients: number; dropped: number; refused: number }; readonly sessions: number; lost: number };
  close(): void;
}

const JSON_HEADERS = { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const BACKLOG = 200;
const LIST_LIMIT = 500;

const loginSchema = z.strictObject({ secret: z.string().max(4096) });
const inspectSchema = z.strictObject({ token: z.string().min(1).max(30_000) });

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const t = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(t)), ...headers });
  res.end(t);
}

function cookieValue(req: IncomingMessage): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== 'string') return undefined;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function createConsole(o: ConsoleOptions): Console {
  // A service whose page was not built still runs (the API answers); the page says what is missing.
  let assets: Map<string, Asset> | undefined;
  try {
    assets = o.assets ?? loadAssets(o.pageDir);
  } catch (e) {
    // The reason names the install path: it goes to the operator's log, never to a visitor.
    process.stderr.write(`capframe serve: console: ${(e as Error).message}\n`);
  }
  const secret = o.adminSecret ? digest(o.adminSecret) : null;
  const views = o.views ?? 'login';
  const sessions = new SessionStore(o.sessionTtl ?? 8 * 3600_000, o.maxSessions ?? 32);
  const limiter = new LoginLimiter(o.loginFailuresPerAddress ?? 5, o.loginFailuresTotal ?? 50, 60_000);
  const hub = new StreamHub<ConsoleSession>(o.maxStreams ?? 16, o.maxStreamBuffer ?? 256 * 1024);
  const ring = new DecisionRing(o.recent ?? 1024);
  const forest = new Forest(o.maxNodes ?? 5000);
  const recent: DecisionView[] = [];
  const publicOrigin = o.publicOrigin ? new URL(o.publicOrigin).origin : undefined;
  const secure = publicOrigin?.startsWith('https:') ?? false;
  const stats = {
    streams: hub.stats,
    get sessions() {
      return sessions.size;
    },
    lost: 0,
  };
  let drained = 0;

  const drain = (): void => {
    if (ring.next === drained) return;
    const { first, events } = ring.since(drained);
    stats.lost += first - drained;
    const now = Date.now();
    // The SSE text is built only for open streams: with none (the usual case) it is a JSON.stringify per decision for nothing.
    const live = hub.size > 0;
    let chunk = '';
    events.forEach((ev, i) => {
      const v = decisionView(ev, first + i, now);
      forest.addDecision(v, ev.grant, ev.expiresAt);
      recent.push(v);
      if (live) chunk += sseEvent('decision', v, v.seq);
    });
    drained = first + events.length;
    if (recent.length > BACKLOG * 2) recent.splice(0, recent.length - BACKLOG);
    if (live) hub.broadcast(chunk);
  };
  const timer = setInterval(drain, o.drainMs ?? 100);
  timer.unref();
  const ping = setInterval(() => hub.broadcast(': ping\n\n'), 15_000);
  ping.unref();
  // A stream lives no longer than its login: expired and pushed-out sessions end theirs within a second.
  const sweep = setInterval(() => {
    if (hub.size > 0) hub.closeWhere((s) => !sessions.isLive(s));
  }, 1000);
  sweep.unref();

  const hostNames = new Set(['localhost', ...(publicOrigin ? [new URL(publicOrigin).hostname] : []), ...(o.hosts ?? []).map((h) => h.toLowerCase())]);
  /** The Host header names this service: an IP literal, localhost, the public origin's host or a configured name. */
  function knownHost(req: IncomingMessage): boolean {
    const h = req.headers.host;
    if (typeof h !== 'string' || h === '') return false;
    let name: string;
    try {
      name = new URL(`http://${h}`).hostname;
    } catch {
      return false;
    }
    return isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0 || hostNames.has(name);
  }

  function sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return false;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return false;
    if (publicOrigin) return origin === publicOrigin;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  /** One audit line of a console action. Throws when the sink cannot take it (the caller decides what that means). */
  function audit(e: Record<string, unknown>): void {
    const sink = o.auditSink;
    if (!sink) return;
    const event = { source: 'console', tool: 'capframe.console', subject: 'admin', ...e };
    if (typeof sink === 'function') sink(event);
    else sink.write(event);
  }
  function auditQuietly(e: Record<string, unknown>): void {
    try {
      audit(e);
    } catch {
      /* the action's answer stands; the audit log reports its own failures */
    }
  }

  function session(req: IncomingMessage): ConsoleSession | undefined {
    return sessions.get(cookieValue(req));
  }

  /** A state-changing request: session, CSRF token, same origin, JSON body. Answers the refusal itself. */
  function admitPost(req: IncomingMessage, res: ServerResponse): boolean {
    if (!sameOrigin(req)) {
      json(res, 403, { code: 'ERR_UNAUTHORIZED', reason: 'cross-origin request refused' });
      return false;
    }
    const s = session(req);
    if (!s) {
      json(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'log in first' });
      return false;
    }
    if (!sameToken(req.headers[CSRF_HEADER] as string | undefined, s.csrf)) {
      json(res, 403, { code: 'ERR_UNAUTHORIZED', reason: 'missing or wrong CSRF token' });
      return false;
    }
    return true;
  }

  function mayRead(req: IncomingMessage, res: ServerResponse): boolean {
    if (views === 'public' || session(req)) return true;
    json(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'log in first' });
    return false;
  }

  async function body<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || !/^application\/json\b/i.test(type)) throw new HttpError(415, 'ERR_MALFORMED', 'send application/json');
    const parsed = schema.safeParse(parseJson(await readBody(req, 64 * 1024)));
    if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
    return parsed.data;
  }

  /** `read()` again only when the registry's version moved: a page view costs no table read while nothing is revoked. */
  function byVersion<T>(read: () => T): () => T {
    let kept: { version: number; value: T } | undefined;
    return () => {
      const version = o.revocation!.version();
      if (kept?.version !== version) kept = { version, value: read() };
      return kept.value;
    };
  }
  const subjectsNow = byVersion(
    // Past every id sequence: the subjects and cut-offs without reading the id list.
    () => new Set(o.revocation!.view(Number.MAX_SAFE_INTEGER).subjects),
  );
  const revokedSubjects = (): Set<string> => {
    try {
      return o.revocation ? subjectsNow() : new Set();
    } catch {
      return new Set();
    }
  };
  const revocationsPage = byVersion(() => {
    const v = o.revocation!.page(LIST_LIMIT);
    return {
      configured: true,
      version: v.version,
      totals: v.totals,
      ids: v.ids.map((r) => ({ id: r.id, seq: r.seq, expiresAt: r.expiresAt })),
      subjects: v.subjects.map((s) => text(s)),
      cutoffs: v.cutoffs,
    };
  });

  const api: Record<string, { method: 'GET' | 'POST'; run(req: IncomingMessage, res: ServerResponse): Promise<void> | void }> = {
    session: {
      method: 'GET',
      run(req, res) {
        const s = session(req);
        json(res, 200, {
          loggedIn: s !== undefined,
          ...(s ? { csrf: s.csrf, expiresAt: s.expiresAt } : {}),
          views,
          loginPossible: secret !== null,
          features: { revocation: o.revocation !== undefined, authority: o.authority !== undefined, audit: o.audit !== undefined },
        });
      },
    },
    login: {
      method: 'POST',
      async run(req, res) {
        if (!sameOrigin(req)) return json(res, 403, { code: 'ERR_UNAUTHORIZED', reason: 'cross-origin request refused' });
        const address = req.socket.remoteAddress ?? '?';
        const wait = limiter.begin(address);
        if (wait > 0)
          return json(res, 429, { code: 'ERR_LIMIT', reason: 'too many failed logins; try again later' }, { 'retry-after': String(Math.ceil(wait / 1000)) });
        let ok = false;
        try {
          const b = await body(req, loginSchema);
          ok = sameSecret(b.secret, secret);
        } finally {
          limiter.settle(address, ok);
        }
        const client = `client:${address}`;
        if (!ok) {
          auditQuietly({ decision: 'deny', code: 'ERR_UNAUTHORIZED', operation: 'login', resource: client });
          return json(res, 401, { code: 'ERR_UNAUTHORIZED', reason: secret ? 'wrong admin secret' : 'no admin secret is configured on this service' });
        }
        try {
          audit({ decision: 'allow', operation: 'login', resource: client });
        } catch {
          // No admin session that the audit log does not know of.
          return json(res, 503, { code: 'ERR_UNAVAILABLE', reason: 'the audit log cannot be written; try again later' });
        }
        const previous = sessions.end(cookieValue(req));
        if (previous) hub.closeWhere((x) => x === previous);
        const { id, session: s } = sessions.create();
        const cookie = `${SESSION_COOKIE}=${id}; Path=${CONSOLE_PATH}; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(sessions.ttlMs / 1000)}${secure ? '; Secure' : ''}`;
        json(res, 200, { loggedIn: true, csrf: s.csrf, expiresAt: s.expiresAt }, { 'set-cookie': cookie });
      },
    },
    logout: {
      method: 'POST',
      run(req, res) {
        if (!admitPost(req, res)) return;
        const ended = sessions.end(cookieValue(req));
        if (ended) hub.closeWhere((s) => s === ended);
        auditQuietly({ decision: 'allow', operation: 'logout', resource: `client:${req.socket.remoteAddress ?? '?'}` });
        json(
          res,
          200,
          { loggedIn: false },
          { 'set-cookie': `${SESSION_COOKIE}=; Path=${CONSOLE_PATH}; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}` },
        );
      },
    },
    decisions: {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        drain();
        json(res, 200, { decisions: recent.slice(-BACKLOG) });
      },
    },
    'decisions/stream': {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        drain();
        const s = session(req) ?? null;
        const backlog = recent
          .slice(-BACKLOG)
          .map((v) => sseEvent('decision', v, v.seq))
          .join('');
        if (!hub.open(res, SECURITY_HEADERS, backlog, s)) json(res, 503, { code: 'ERR_UNAVAILABLE', reason: 'too many live streams' }, { 'retry-after': '5' });
      },
    },
    trees: {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        drain();
        const subjects = revokedSubjects();
        const revoked = (n: ForestNode) =>
          n.lastCode === 'ERR_REVOKED' || (o.revocation?.state.isRevokedId(n.id) ?? false) || (n.subject !== '' && subjects.has(n.subject));
        json(res, 200, { nodes: forest.size, trees: forest.trees(revoked) });
      },
    },
    revocations: {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        if (!o.revocation) return json(res, 200, { configured: false });
        let page: ReturnType<typeof revocationsPage>;
        try {
          page = revocationsPage();
        } catch (e) {
          return json(res, 503, { code: toCapframeError(e).code, reason: 'the revocation registry cannot be read now' });
        }
        json(res, 200, page);
      },
    },
    revoke: {
      method: 'POST',
      async run(req, res) {
        if (!admitPost(req, res)) return;
        if (!o.revocation) return json(res, 501, { code: 'ERR_CONFIG', reason: 'revocation is not configured on this service (server.revocation)' });
        const b = await body(req, revokeTargetSchema);
        const what = 'id' in b ? `id:${b.id.toLowerCase()}` : 'subject' in b ? `subject:${b.subject}` : `kid:${b.kid} before ${b.before}`;
        const line = { tool: 'capframe.revoke', operation: 'revoke', mode: 'console', resource: what };
        try {
          const r = (await o.revocation.revoke(b)) as { changed?: boolean; version?: number; target?: string };
          auditQuietly({ ...line, decision: 'allow' });
          json(res, 200, { ok: true, changed: r?.changed, version: r?.version, target: text(r?.target) });
        } catch (e) {
          const err = toCapframeError(e);
          auditQuietly({ ...line, decision: 'deny', code: err.code });
          json(res, err.code === 'ERR_INTERNAL' || err.code === 'ERR_UNAVAILABLE' ? 503 : 400, { code: err.code, reason: text(err.message, 300) });
        }
      },
    },
    inspect: {
      method: 'POST',
      async run(req, res) {
        if (!admitPost(req, res)) return;
        const b = await body(req, inspectSchema);
        try {
          const t = inspect(b.token.trim());
          // Decoded fields only: no token text and no keys (holder keys are left out).
          json(res, 200, {
            kid: t.kid,
            bytes: t.bytes,
            verified: false,
            expiresAt: t.expiresAt,
            blocks: t.blocks.map(({ holder: _holder, ...blk }) => blk),
          });
        } catch (e) {
          const err = toCapframeError(e);
          json(res, 400, { code: err.code, reason: 'not a token this service can decode' });
        }
      },
    },
    agents: {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        if (!o.authority) return json(res, 200, { configured: false });
        const { total, agents } = o.authority.agents(LIST_LIMIT);
        json(res, 200, {
          configured: true,
          audience: text(o.authority.audience),
          total,
          agents: agents.map((a) => ({
            subject: text(a.subject),
            profile: text(a.profile),
            status: a.status,
            via: text(a.via, 16),
            enrolledAt: a.enrolledAt,
            disenrolledAt: a.disenrolledAt,
          })),
        });
      },
    },
    checkpoint: {
      method: 'GET',
      run(req, res) {
        if (!mayRead(req, res)) return;
        const a = o.audit;
        if (!a) return json(res, 200, { configured: false });
        const last = a.lastCheckpoint;
        let verified = false;
        if (last && a.checkpointKey && last.kid && last.head && last.sig) {
          verified = checkCheckpoint({ at: last.at, head: last.head, kid: last.kid, time: last.time, v: 1, sig: last.sig }, [a.checkpointKey]);
        }
        json(res, 200, {
          configured: true,
          signing: a.checkpointKey !== undefined,
          headSeq: a.head.seq,
          failures: a.checkpointFailures,
          last: last ? { seq: last.seq, at: last.at, time: last.time, kid: last.kid ?? null, verified, unsigned: Math.max(0, a.head.seq - last.seq) } : null,
        });
      },
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === CONSOLE_PATH) {
      res.writeHead(308, { ...SECURITY_HEADERS, location: `${CONSOLE_PATH}/`, 'content-length': '0' });
      res.end();
      return;
    }
    const rest = path.slice(CONSOLE_PATH.length + 1);
    if (rest.startsWith('api/')) {
      const r = Object.hasOwn(api, rest.slice(4)) ? api[rest.slice(4)] : undefined;
      if (!r) return json(res, 404, { code: 'ERR_MALFORMED', reason: 'no such endpoint' });
      if (req.method !== r.method) return json(res, 405, { code: 'ERR_MALFORMED', reason: `use ${r.method}` }, { allow: r.method });
      await r.run(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { code: 'ERR_MALFORMED', reason: 'use GET' }, { allow: 'GET' });
    if (!assets) return json(res, 503, { code: 'ERR_CONFIG', reason: 'the console page is not built on this service (see the service log)' });
    const a = assets.get(rest === '' ? 'index.html' : rest);
    if (!a) return json(res, 404, { code: 'ERR_MALFORMED', reason: 'no such file' });
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': a.type,
      'content-length': String(a.body.length),
      'cache-control': rest === '' ? 'no-store' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  }

  return {
    record: ring.push as unknown as (d: Decision) => void,
    issued(t) {
      forest.addIssued(t, Date.now());
    },
    handler(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (path !== CONSOLE_PATH && !path.startsWith(CONSOLE_PATH + '/')) return false;
      if (!knownHost(req)) {
        json(res, 421, { code: 'ERR_UNAUTHORIZED', reason: "unknown Host: open the console by this service's address or its configured publicOrigin" });
        return true;
      }
      handle(req, res, path).catch((e: unknown) => {
        if (e instanceof HttpError) json(res, e.status, { code: e.code, reason: e.message }, e.status === 413 ? { connection: 'close' } : {});
        else json(res, 500, { code: 'ERR_INTERNAL', reason: 'internal error' });
      });
      return true;
    },
    limiter,
    stats,
    close() {
      clearInterval(timer);
      clearInterval(ping);
      clearInterval(sweep);
      hub.closeAll();
      sessions.clear();
    },
  };
}
