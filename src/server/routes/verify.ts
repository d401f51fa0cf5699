/**
 * POST /v1/verify: token + signed invocation proof + the call the caller is
 * about to make (tool, operation, resource, arguments) -> decision JSON
 * (src/server/wire.ts). The caller's operation and resource are required:
 * the service never decides with the proof's own values alone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decisionToJson, verifyRequestSchema } from '../../remote/wire.ts';
import type { Decider, Item } from '../decide.ts';
import { HttpError, parseJson, readBody, send, zodMessage } from '../http.ts';

export function verifyRoute(decider: Decider, bodyLimit: number) {
  return async function verify(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const body = await readBody(req, bodyLimit);
    const t0 = process.hrtime.bigint();
    const json = parseJson(body);
    const parsed = verifyRequestSchema.safeParse(json);
    if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
    // The validated shape, but the caller's own args object (JSON.parse output), never a rebuilt copy.
    const d = decider.check(json as Item);
    const [settled] = await decider.settle([d instanceof Promise ? await d : d], [t0]);
    send(res, 200, decisionToJson(settled!));
    return 200;
  };
}
