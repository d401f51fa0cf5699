/** POST /v1/revoke: admin bearer secret, then the body goes to the revocation registry. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CapframeError } from '../../errors.ts';
import type { Metrics } from '../metrics.ts';
import { tooManyGuesses, type LoginLimiter } from '../login-limiter.ts';
import { checkBearer, HttpError, parseJson, readBody, send } from '../http.ts';

/** What POST /v1/revoke does with an authenticated body. Throw a CapframeError to refuse it (400). */
export type RevokeFn = (body: unknown) => unknown | Promise<unknown>;

/** Wrong secrets count against `limiter` (the console's logins share it: the same secret). */
export function revokeRoute(revokeFn: RevokeFn | undefined, secretDigest: Buffer | null, metrics: Metrics, bodyLimit: number, limiter: LoginLimiter) {
  return async function revoke(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const address = req.socket.remoteAddress ?? '?';
    const wait = limiter.begin(address);
    if (wait > 0) return tooManyGuesses(res, wait, metrics);
    const admin = checkBearer(req.headers.authorization, secretDigest);
    limiter.settle(address, admin);
    if (!admin) {
      metrics.rejected('unauthorized');
      send(res, 401, { code: 'ERR_UNAUTHORIZED', reason: 'a valid admin bearer secret is required' }, { 'www-authenticate': 'Bearer', connection: 'close' });
      return 401;
    }
    if (!revokeFn) throw new HttpError(501, 'ERR_CONFIG', 'revocation is not configured on this service', 'not_configured');
    const json = parseJson(await readBody(req, bodyLimit));
    try {
      const result = await revokeFn(json);
      send(res, 200, result ?? { ok: true });
      return 200;
    } catch (e) {
      if (e instanceof CapframeError && e.code !== 'ERR_INTERNAL' && e.code !== 'ERR_UNAVAILABLE') {
        throw new HttpError(400, e.code, e.message);
      }
      throw e;
    }
  };
}
