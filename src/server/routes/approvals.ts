/**
 * POST /v1/approvals and GET /v1/approvals: the service collects approvals
 * (docs/spec.md §15) for a UI.
 *
 *   POST { "request": {approval request} }      admin bearer: registers a pending request
 *   POST { "approval": "cfa1.…" }               admin bearer, or none: the approval itself must
 *                                               be valid and signed by an approver of a pending
 *                                               request for exactly its call
 *   GET  /v1/approvals                          admin bearer: { "pending": [ … ] }
 *   GET  /v1/approvals?id=ID                    admin bearer: one pending request and its approvals
 *
 * Answers: the pending entry { id, request, approvals, got, until }.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CapframeError } from '../../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { ApprovalInbox } from '../approval-inbox.ts';
import { HttpError, parseJson, readBody, send } from '../http.ts';
import { limitedBearer, type LoginLimiter } from '../login-limiter.ts';

function unauthorized(res: ServerResponse, metrics: Metrics): number {
  metrics.rejected('unauthorized');
  send(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'a valid admin bearer secret is required' }, { 'www-authenticate': 'Bearer', connection: 'close' });
  return 401;
}

function refused(e: unknown): never {
  if (e instanceof CapframeError) {
    if (e.code === 'ERR_UNAVAILABLE') throw new HttpError(503, e.code, e.message, 'approvals_full');
    if (e.code !== 'ERR_INTERNAL') throw new HttpError(400, e.code, e.message);
  }
  throw e;
}

/** Wrong admin secrets count against `limiter` (shared with console logins and POST /v1/revoke). */
export function approvalsRoute(inbox: ApprovalInbox | undefined, secretDigest: Buffer | null, metrics: Metrics, bodyLimit: number, limiter: LoginLimiter) {
  return async function approvals(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (!inbox) throw new HttpError(501, 'ERR_CONFIG', 'approval collection is not configured on this service', 'not_configured');
    const admin = limitedBearer(req, res, secretDigest, limiter, metrics);
    if (admin === undefined) return 429;
    if (req.method === 'GET') {
      if (!admin) return unauthorized(res, metrics);
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('id');
      if (q === null) {
        send(res, 200, { pending: inbox.list() });
        return 200;
      }
      const one = /^[0-9a-f]{32}$/.test(q) ? inbox.get(q) : undefined;
      if (!one) throw new HttpError(404, 'ERR_MALFORMED', 'no pending approval request with this id', 'not_found');
      send(res, 200, one);
      return 200;
    }
    if (req.method !== 'POST') throw new HttpError(405, 'ERR_MALFORMED', 'use GET or POST', 'method');
    const json = parseJson(await readBody(req, bodyLimit));
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new HttpError(400, 'ERR_MALFORMED', 'the body is { "request": … } or { "approval": "cfa1.…" }');
    const keys = Object.keys(json);
    const body = json as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === 'request') {
      if (!admin) return unauthorized(res, metrics);
      let entry;
      try {
        entry = inbox.add(body.request);
      } catch (e) {
        refused(e);
      }
      send(res, 200, entry);
      return 200;
    }
    if (keys.length === 1 && keys[0] === 'approval' && typeof body.approval === 'string') {
      let entry;
      try {
        entry = inbox.post(body.approval);
      } catch (e) {
        refused(e);
      }
      send(res, 200, entry);
      return 200;
    }
    throw new HttpError(400, 'ERR_MALFORMED', 'the body is { "request": … } or { "approval": "cfa1.…" }');
  };
}
