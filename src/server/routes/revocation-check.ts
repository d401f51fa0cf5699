/**
 * POST /v1/revocation/check {"ids": ["<32 hex>", …]} -> {"version": V, "revoked": [ids]}:
 * which of these block ids the service's exact revocation list holds. A
 * verifier holding only the compact form (docs/spec.md §10.9) asks this
 * before denying on a filter hit. 503 (ERR_UNAVAILABLE) when the service has
 * no current list itself: the verifier then denies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { HttpError, parseJson, readBody, send, zodMessage } from '../http.ts';

/** At most this many ids per request (a chain has at most 8 blocks; a batch a few chains). */
export const MAX_CHECK_IDS = 64;

export const revocationCheckRequestSchema = z.strictObject({
  ids: z
    .array(z.string().regex(/^[0-9a-f]{32}$/))
    .min(1)
    .max(MAX_CHECK_IDS),
});

/** The service's exact answer; throws a CapframeError (ERR_UNAVAILABLE) when it has no current list. */
export type RevocationLookup = (ids: readonly string[]) => { version: number; revoked: string[] };

export function revocationCheckRoute(lookup: RevocationLookup | undefined, bodyLimit: number) {
  return async function check(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (!lookup) throw new HttpError(501, 'ERR_CONFIG', 'revocation is not configured on this service', 'not_configured');
    const parsed = revocationCheckRequestSchema.safeParse(parseJson(await readBody(req, bodyLimit)));
    if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
    let answer;
    try {
      answer = lookup(parsed.data.ids);
    } catch (e) {
      throw new HttpError(503, 'ERR_UNAVAILABLE', e instanceof Error ? e.message : 'revocation list unavailable', 'unavailable');
    }
    send(res, 200, answer);
    return 200;
  };
}
