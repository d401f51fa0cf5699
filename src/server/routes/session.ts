/**
 * Sessions over HTTP (docs/spec.md §13.7): POST /v1/session/nonce,
 * /v1/session/open and /v1/session/calls. The SessionTable decides; this
 * module only reads, validates and answers, and audits every call decision
 * (mode "session") like /v1/verify does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CapframeError } from '../../errors.ts';
import { formatPublicKey } from '../../crypto/keys.ts';
import { decodeBase64url, encodeBase64url } from '../../encoding/base64url.ts';
import type { SessionAnswer, SessionCall, SessionTable } from '../../verify/session-table.ts';
import type { Decision } from '../../verify/verifier.ts';
import { decisionToJson, MAX_SESSION_CALLS, sessionCallProblem, sessionOpenSchema } from '../../remote/wire.ts';
import type { Decider } from '../decide.ts';
import type { Metrics } from '../metrics.ts';
import { clientAddress } from '../limits.ts';
import { HttpError, parseJson, readBody, send, zodMessage } from '../http.ts';

/** A typed refusal of a handshake step: 429 for caps and rate limits, 400 otherwise. */
function refuse(e: unknown): never {
  if (e instanceof CapframeError && e.code !== 'ERR_INTERNAL') {
    throw new HttpError(e.code === 'ERR_SESSION_LIMIT' ? 429 : 400, e.code, e.message, e.code === 'ERR_SESSION_LIMIT' ? 'session_limit' : 'session_refused');
  }
  throw e;
}

export function sessionNonceRoute(table: SessionTable) {
  return async function sessionNonce(req: IncomingMessage, res: ServerResponse): Promise<number> {
    await readBody(req, 1024);
    let n;
    try {
      n = table.nonce(clientAddress(req.socket));
    } catch (e) {
      refuse(e);
    }
    send(res, 200, { nonce: encodeBase64url(n.nonce), serviceKey: formatPublicKey(n.serviceKey), expiresAt: n.expiresAt, maxTtl: table.maxTtl });
    return 200;
  };
}

export function sessionOpenRoute(table: SessionTable, bodyLimit: number) {
  return async function sessionOpen(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const json = parseJson(await readBody(req, bodyLimit));
    const parsed = sessionOpenSchema.safeParse(json);
    if (!parsed.success) throw new HttpError(400, 'ERR_MALFORMED', zodMessage(parsed.error.issues));
    let out;
    try {
      out = await table.open({ token: parsed.data.token, hello: decodeBase64url(parsed.data.hello), signature: decodeBase64url(parsed.data.signature) });
    } catch (e) {
      refuse(e);
    }
    send(res, 200, { reply: encodeBase64url(out.reply), signature: encodeBase64url(out.signature) });
    return 200;
  };
}

/**
 * Decides session calls (§13.5) and makes their answers (§13.6), in order:
 * shape check, SessionTable.check, audit and metrics (Decider.settle), the
 * answer tag. Both bindings use it: POST /v1/session/calls for a batch and
 * the stream (routes/session-stream.ts) for the calls of one read.
 */
export async function decideSessionCalls(table: SessionTable, decider: Decider, metrics: Metrics, calls: readonly unknown[]): Promise<SessionAnswer[]> {
  const answers: SessionAnswer[] = new Array(calls.length);
  const decisions: (Decision | Promise<Decision>)[] = [];
  const t0s: bigint[] = [];
  const slots: number[] = [];
  for (let i = 0; i < calls.length; i++) {
    const t0 = process.hrtime.bigint();
    const problem = sessionCallProblem(calls[i]);
    if (problem !== undefined) {
      metrics.rejected('invalid_body');
      answers[i] = malformedAnswer(calls[i], problem);
      continue;
    }
    // The validated shape, but the caller's own args object (JSON.parse output).
    decisions.push(table.check(calls[i] as SessionCall));
    t0s.push(t0);
    slots.push(i);
  }
  if (decisions.length === 0) return answers;
  // Most checks answer synchronously; one that waits (e.g. a revocation filter hit being confirmed) is awaited.
  const ready = decisions.some((d) => d instanceof Promise) ? await Promise.all(decisions.map((d) => Promise.resolve(d))) : (decisions as Decision[]);
  const settled = await decider.settle(ready, t0s);
  settled.forEach((d, k) => {
    const i = slots[k]!;
    answers[i] = table.answer(calls[i] as SessionCall, JSON.stringify(decisionToJson(d)));
  });
  return answers;
}

/** The untagged ERR_MALFORMED answer of something that is not a session call, with its counter when it has a usable one (else 0). */
export function malformedAnswer(c: unknown, problem: string): SessionAnswer {
  const x = c as { counter?: unknown } | null;
  const counter = typeof x?.counter === 'number' && Number.isSafeInteger(x.counter) ? x.counter : 0;
  return { counter, decision: JSON.stringify({ allowed: false, mode: 'session', code: 'ERR_MALFORMED', reason: problem }) };
}

export function sessionCallsRoute(table: SessionTable, decider: Decider, metrics: Metrics, bodyLimit: number) {
  return async function sessionCalls(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const body = await readBody(req, bodyLimit);
    const json = parseJson(body) as { calls?: unknown };
    if (typeof json !== 'object' || json === null || !Array.isArray(json.calls) || Object.keys(json).length !== 1) {
      throw new HttpError(400, 'ERR_MALFORMED', 'a session request is {"calls": [...]}');
    }
    const calls = json.calls as unknown[];
    if (calls.length === 0 || calls.length > MAX_SESSION_CALLS)
      throw new HttpError(400, 'ERR_MALFORMED', `a session request holds 1 to ${MAX_SESSION_CALLS} calls`);
    send(res, 200, { answers: await decideSessionCalls(table, decider, metrics, calls) });
    return 200;
  };
}
