/**
 * The authority routes (docs/spec.md §16):
 *
 *   POST /v1/enrolments  {"request": "cfq1.…", "code"?: "cfe1.…"}  admin bearer secret or a one-time code
 *   POST /v1/tokens      {"request": "cfq1.…"}                     the enrolled holder key's signed request
 *   POST /v1/disenrol    {"subject": "…", "reason"?: "…"}          admin bearer secret
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { toCapframeError } from '../../error-codes.ts';
import type { ErrorCode } from '../../errors.ts';
import type { Authority } from '../authority.ts';
import type { Metrics } from '../metrics.ts';
import type { RouteTable } from '../router.ts';
import { HttpError, parseJson, readBody, send, zodMessage } from '../http.ts';
import { limitedBearer, type LoginLimiter } from '../login-limiter.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_UNAUTHORIZED: 401,
  ERR_SIGNATURE_INVALID: 401,
  ERR_EXPIRED: 401,
  ERR_NOT_YET_VALID: 401,
  ERR_REPLAY: 409,
  ERR_REVOKED: 403,
  ERR_UNAVAILABLE: 503,
  ERR_INTERNAL: 500,
};

const enrolSchema = z.strictObject({ request: z.string().max(4096), code: z.string().max(128).optional() });
const tokenSchema = z.strictObject({ request: z.string().max(4096) });
const disenrolSchema = z.strictObject({ subject: z.string().min(1).max(1024), reason: z.string().max(500).optional() });

async function body<T>(req: IncomingMessage, limit: number, schema: z.ZodType<T>): Promise<T> {
  const parsed = schema.safeParse(parseJson(await readBody(req, limit)));
  if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
  return parsed.data;
}

function answer(res: ServerResponse, e: unknown): number {
  const err = toCapframeError(e);
  const status = STATUS[err.code] ?? 400;
  // Internal details stay in the process; the client gets the code.
  send(res, status, { code: err.code, reason: status === 500 ? 'internal error' : err.message });
  return status;
}

function unauthorized(res: ServerResponse, metrics: Metrics): number {
  metrics.rejected('unauthorized');
  send(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'a valid admin bearer secret is required' }, { 'www-authenticate': 'Bearer' });
  return 401;
}

/** Wrong admin secrets count against `limiter` (shared with console logins and POST /v1/revoke). */
export function authorityRoutes(a: Authority, secretDigest: Buffer | null, metrics: Metrics, bodyLimit: number, limiter: LoginLimiter): RouteTable {
  const limit = Math.min(bodyLimit, 16 * 1024);
  return {
    '/v1/enrolments': {
      method: 'POST',
      async route(req, res) {
        const admin = limitedBearer(req, res, secretDigest, limiter, metrics);
        if (admin === undefined) return 429;
        // A wrong secret is refused, not taken as "no secret, try the code".
        if (!admin && req.headers.authorization !== undefined) return unauthorized(res, metrics);
        const b = await body(req, limit, enrolSchema);
        try {
          const r = await a.enrol(b.request, b.code, admin);
          send(res, r.changed ? 201 : 200, r);
          return r.changed ? 201 : 200;
        } catch (e) {
          return answer(res, e);
        }
      },
    },
    '/v1/tokens': {
      method: 'POST',
      async route(req, res) {
        const b = await body(req, limit, tokenSchema);
        try {
          const r = await a.issue(b.request);
          send(res, 200, r);
          return 200;
        } catch (e) {
          return answer(res, e);
        }
      },
    },
    '/v1/disenrol': {
      method: 'POST',
      async route(req, res) {
        const admin = limitedBearer(req, res, secretDigest, limiter, metrics);
        if (admin === undefined) return 429;
        if (!admin) return unauthorized(res, metrics);
        const b = await body(req, limit, disenrolSchema);
        try {
          const r = await a.disenrol(b.subject, b.reason);
          send(res, 200, r);
          return 200;
        } catch (e) {
          return answer(res, e);
        }
      },
    },
  };
}
