/**
 * POST /v1/verify/batch {"requests": [req, ...], "batches"?: [...]} ->
 * {"decisions": [decision, ...]} in the same order (docs/spec.md §4.5). An
 * element that is not a valid request gets {"allowed": false, "code":
 * "ERR_MALFORMED", ...}. At most `maxBatch` elements, so one batch holds the
 * event loop for a few ms at most. Every element is checked before any
 * answer is awaited: an asynchronous replay store gets the claims of the
 * whole request at once (one round trip to Redis).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decision } from '../../verify/verifier.ts';
import { Invocation } from '../../token/invocation.ts';
import type { BatchParts } from '../../token/invocation-batch.ts';
import { decodeBase64url } from '../../encoding/base64url.ts';
import { batchItemRequestSchema, decisionToJson, MAX_BATCHES_PER_REQUEST, signedBatchSchema, verifyRequestSchema } from '../../remote/wire.ts';
import type { Decider, Item } from '../decide.ts';
import type { Metrics } from '../metrics.ts';
import { HttpError, parseJson, readBody, send, zodMessage } from '../http.ts';

type BatchItemRequestShape = { token: string; tool: string; args: Record<string, unknown>; operation: string; resource: string };

export function verifyBatchRoute(decider: Decider, metrics: Metrics, batchBodyLimit: number, maxBatch: number) {
  return async function verifyBatch(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const body = await readBody(req, batchBodyLimit);
    const json = parseJson(body) as { requests?: unknown; batches?: unknown };
    const keys = typeof json === 'object' && json !== null && !Array.isArray(json) ? Object.keys(json) : [];
    if (
      !Array.isArray(json?.requests) ||
      keys.some((k) => k !== 'requests' && k !== 'batches') ||
      (json.batches !== undefined && !Array.isArray(json.batches))
    ) {
      throw new HttpError(400, 'ERR_MALFORMED', 'a batch is {"requests": [...], "batches"?: [...]}');
    }
    const items = json.requests;
    if (items.length === 0 || items.length > maxBatch) throw new HttpError(400, 'ERR_MALFORMED', `a batch holds 1 to ${maxBatch} requests`);
    const rawBatches = (json.batches ?? []) as unknown[];
    if (rawBatches.length > MAX_BATCHES_PER_REQUEST)
      throw new HttpError(400, 'ERR_MALFORMED', `a batch request holds at most ${MAX_BATCHES_PER_REQUEST} signed batches`);
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
    const pending: (Decision | Promise<Decision>)[] = [];
    let async = false;
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
        if (!parsed.success) {
          malformed(zodMessage(parsed.error.issues));
          continue;
        }
        const parts = batches[parsed.data.batch];
        if (parts === undefined) {
          malformed(`batch: no signed batch ${parsed.data.batch} in this request`);
          continue;
        }
        if (typeof parts === 'string') {
          malformed(parts);
          continue;
        }
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
        if (!parsed.success) {
          malformed(zodMessage(parsed.error.issues));
          continue;
        }
        request = item as Item;
      }
      const d = decider.check(request);
      if (d instanceof Promise) async = true;
      pending.push(d);
      t0s.push(t0);
      slots.push(out.length);
      out.push({});
    }
    // Promise.all only when a store answered asynchronously: the synchronous path stays promise-free.
    // Promise.all takes the plain decisions among them as they are.
    const decisions = async ? await Promise.all(pending as Promise<Decision>[]) : (pending as Decision[]);
    const settled = await decider.settle(decisions, t0s);
    settled.forEach((d, i) => {
      out[slots[i]!] = decisionToJson(d);
    });
    send(res, 200, { decisions: out });
    return 200;
  };
}
