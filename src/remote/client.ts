/**
 * The remote verifier (a `CallVerifier`): the same Decision shape as the
 * in-process `Verifier`, answered by a capframe verification service
 * (`capframe serve`, POST /v1/verify) over an undici keep-alive pool.
 *
 * The service only ever sees signed calls: the token, a signed invocation
 * proof and the arguments. So
 *  - `verifyInvocation(token, proof, expected)` forwards an existing proof;
 *  - `verifyCall(token, call, { holderKey })` (used by the LangChain guard
 *    for non-attested tools) SIGNS a proof for the call first, with the
 *    holder key given to the call or to the constructor, then forwards it.
 *    Calls queued together for the same token and key are signed as ONE
 *    batch (docs/spec.md §4.4: one Ed25519 signature, which the service
 *    checks once), sent once with its items in one /v1/verify/batch request
 *    (§4.5); a call that goes alone gets an ordinary single proof. Without a
 *    holder key, `verifyCall` is denied with ERR_CONFIG: a remote service
 *    cannot check an unsigned call, and it never silently falls back.
 *
 * Fail closed: when the service cannot be reached, times out, or answers
 * anything but a well-formed decision, the call is denied with
 * ERR_UNAVAILABLE. The only alternative is an explicit local `fallback`
 * Verifier (same keys), which then decides instead; there is no fail-open.
 */
import { Pool, type Dispatcher } from 'undici';
import type { RemoteConfig } from '../config/remote.ts';
import {
  ApprovalRequiredError,
  CapframeError,
  ConfigError,
  InvalidArgumentError,
  LimitError,
  SessionAnswerError,
  UnavailableError,
  type LimitDetails,
} from '../errors.ts';
import { Approval } from '../token/approval.ts';
import type { ApprovalInput } from '../verify/approvals.ts';
import { errorFromCode, toCapframeError } from '../error-codes.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { prepareInvocation, signBatchParts, signInvocation } from '../holder/invoke.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import { equalBytes, toHex } from '../crypto/hash.ts';
import { Invocation } from '../token/invocation.ts';
import { decodeInvocationPayload } from '../token/invocation-payload.ts';
import { LIMITS } from '../token/limits.ts';
import { Token } from '../token/token.ts';
import { decisionResponseSchema } from './wire.ts';
import { type Allowed, type Decision, type Denied, type ExpectedCall, type LocalCall, type TokenInput } from '../verify/verifier.ts';
import type { CallSigner, CallVerifier } from '../verify/call-verifier.ts';
import { newCallId } from '../token/call-id.ts';
import { parsePublicKey, toPublicKey, type PublicKeyInput } from '../crypto/keys.ts';
import { decodeBase64url } from '../encoding/base64url.ts';
import { beginSession, type ClientSession, type SealedCall } from './session-client.ts';
import { SessionStream, type StreamResult } from './session-stream.ts';
import { readSessionAnswers, sessionNonceResponseSchema, sessionOpenResponseSchema } from './wire.ts';
import type { SessionAnswer } from '../verify/session-table.ts';
import type { Clock } from '../clock.ts';

/** The limit details of an answer, without members that are absent (exactOptionalPropertyTypes). */
function stripUndefined(l: { [K in keyof LimitDetails]: LimitDetails[K] | undefined }): LimitDetails {
  return Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as unknown as LimitDetails;
}

/** An approval as it travels in a request: its cfa1. text (bytes are parsed first; a bad one is refused here). */
function approvalText(a: ApprovalInput): string {
  return typeof a === 'string' ? a : Approval.parse(a).toString();
}

export interface RemoteVerifierOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** Holder key of the tokens this client checks with `verifyCall()` when the call brings none: each call is signed with it. */
  readonly holderKey?: PrivateKey;
  /** Lifetime of the proofs `verifyCall()` signs, seconds. Default 30. */
  readonly proofTtl?: number;
  /** Deadline for one verification, ms (connect + response). Default 2 000. */
  readonly timeout?: number;
  /** Keep-alive connections to the service. Default 16. */
  readonly connections?: number;
  /** A local Verifier to decide when the service is unreachable. Default none: deny ERR_UNAVAILABLE. */
  readonly fallback?: { verifyInvocation(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision> };
  /** Called by close(), e.g. to stop what keeps the fallback's state fresh. */
  readonly onClose?: () => void | Promise<void>;
  /**
   * When every connection is busy, send the waiting calls together in one
   * POST /v1/verify/batch (at most `maxBatch`, default 32). Default true.
   * Each call still gets its own signature check and decision; only the
   * round trip is shared. At light load calls go alone, at once.
   */
  readonly batch?: boolean;
  readonly maxBatch?: number;
  /** HTTP requests out at once when batching (more calls wait and go in the next batch). Default 4. */
  readonly maxRequests?: number;
  /** Use this undici dispatcher instead of a private Pool (not closed by close()). */
  readonly dispatcher?: Dispatcher;
  /**
   * The service's Ed25519 public key (cfk1.… or 32 bytes), pinned: with it,
   * `verifyCall()` goes over sessions (docs/spec.md §13): one handshake
   * signed by the holder key per token, then each call carries an HMAC tag
   * and each answer is HMAC-tagged under the session key. Calls given with a
   * proof (`verifyInvocation`, attested tools) stay signed.
   */
  readonly serviceKey?: PublicKeyInput;
  /** Use sessions when `serviceKey` is given. Default true. */
  readonly sessions?: boolean;
  /** Lifetime asked for each session, seconds (capped by the token and the service). Default 3600. */
  readonly sessionTtl?: number;
  /**
   * How session calls travel: 'stream' (default) over one upgraded
   * connection as JSON lines (docs/spec.md §13.7.1), falling back to 'http'
   * for good when the service refuses the upgrade; 'http' in batches of
   * POST /v1/session/calls (§13.7).
   */
  readonly sessionTransport?: 'stream' | 'http';
}

/** Calls waiting to go out in one POST /v1/session/calls. */
interface SessionPending {
  readonly sealed: SealedCall;
  resolve: (a: SessionAnswer | Error) => void;
}

/** A client's session with the service for one token and holder key. */
interface SessionSlot {
  readonly opening: Promise<ClientSession>;
  session?: ClientSession;
}

/** Loopback hosts, where plain http:// cannot be read or altered by anyone else on the path. */
function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** What an allow from the service must repeat of the call, when known here (besides the tool). */
const ALLOW_MUST_MATCH = ['operation', 'resource', 'callId', 'argsDigest'] as const;
/** The decision fields taken from the service's answer. */
const ANSWER_FIELDS = ['tool', 'operation', 'resource', 'callId', 'argsDigest', 'subject', 'chainIds'] as const;

type Base = { -readonly [K in 'tool' | 'operation' | 'resource' | 'callId' | 'argsDigest']?: string };

function denied(base: Base, error: CapframeError, mode: 'signed' | 'local' | 'session' = 'signed'): Denied {
  return Object.freeze({ ...base, mode, allowed: false as const, code: error.code, reason: error.message, error });
}

const MAX_RESPONSE = 4 * 1024 * 1024;
/** Calls whose request is larger than this go alone to /v1/verify. */
const BATCH_ITEM_MAX = 16 * 1024;
/** Upper bound of the JSON text of a batched proof (§4.4 limits), for the size check before signing. */
const PROOF_JSON_MAX = Math.ceil((LIMITS.maxBatchedInvocationBytes * 4) / 3) + 32;

interface Pending {
  /** The request JSON; for a call `verifyCall()` has still to sign, the JSON without `invocation`. */
  json: string;
  readonly token: Token;
  /** The proof; built on demand for items sent as part of a signed batch (needed only by a fallback verifier). */
  proof: Invocation | string | Uint8Array | (() => Invocation);
  readonly expected: ExpectedCall;
  readonly base: Base;
  /** Set while the call waits to be signed (verifyCall): signed when it leaves the queue. */
  unsigned: { readonly key: PrivateKey; readonly payload: Uint8Array } | undefined;
  resolve: (d: Decision | Promise<Decision>) => void;
}

export class RemoteVerifier implements CallVerifier {
  readonly url: string;
  readonly timeout: number;
  readonly #origin: string;
  readonly #path: string;
  readonly #dispatcher: Dispatcher;
  readonly #own: boolean;
  readonly #holderKey: PrivateKey | undefined;
  readonly #proofTtl: number;
  readonly #fallback: RemoteVerifierOptions['fallback'];
  readonly #onClose: RemoteVerifierOptions['onClose'];
  readonly #batchPath: string;
  readonly #sessionPath: string;
  readonly #maxBatch: number;
  readonly #maxOutstanding: number;
  #queue: Pending[] = [];
  readonly #serviceKey: Uint8Array | undefined;
  readonly #sessionTtl: number;
  #sessions = new WeakMap<Token, Map<PrivateKey, SessionSlot>>();
  #sessionQueue: SessionPending[] = [];
  #sessionOutstanding = 0;
  #sessionDrainScheduled = false;
  /**
   * Session figures: handshakes made, calls retried once with a new session
   * because the service no longer knew theirs (e.g. it restarted), answers
   * refused as forged, replayed or mismatched, HTTP requests that carried
   * session calls (calls per request = calls / requests); for the stream
   * binding: streams opened, of which reconnects (after one was lost), calls
   * whose answer was lost with a stream, and calls sealed again and resent.
   */
  readonly sessionStats = { handshakes: 0, retries: 0, refusedAnswers: 0, requests: 0, streams: 0, reconnects: 0, lost: 0, resent: 0 };
  /** The stream binding (undefined with sessionTransport 'http'); while the service refuses it, calls go over HTTP. */
  #stream: SessionStream | undefined;
  #outstanding = 0;
  #drainScheduled = false;

  constructor(o: RemoteVerifierOptions) {
    if (!o || typeof o.url !== 'string') throw new InvalidArgumentError('RemoteVerifier needs the service `url`');
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new InvalidArgumentError(`not a URL: ${JSON.stringify(o.url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('the service URL must be http: or https:');
    // An answer over plain HTTP from a non-loopback host could be forged by anyone on the path
    // (an allow is only JSON on the signed path): https:// with certificate checks (undici's default).
    if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
      throw new ConfigError(`the service URL ${u.origin} is plain http:// to a non-loopback host, where anyone on the path can forge an allow: use https://`);
    }
    this.url = o.url;
    this.#origin = u.origin;
    this.#path = u.pathname.replace(/\/+$/, '') + '/v1/verify';
    this.#batchPath = this.#path + '/batch';
    this.#sessionPath = u.pathname.replace(/\/+$/, '') + '/v1/session/calls';
    this.#maxBatch = o.batch === false ? 1 : Math.max(1, Math.min(64, o.maxBatch ?? 32));
    this.#maxOutstanding = Math.max(1, Math.min(o.maxRequests ?? 4, o.connections ?? 16));
    this.timeout = o.timeout ?? 2_000;
    if (!Number.isFinite(this.timeout) || this.timeout <= 0) throw new InvalidArgumentError('timeout must be a positive number of ms');
    if (o.holderKey !== undefined && o.holderKey?.kind !== 'private') throw new InvalidArgumentError('holderKey must be a private key');
    this.#holderKey = o.holderKey;
    this.#proofTtl = o.proofTtl ?? 30;
    this.#fallback = o.fallback;
    this.#onClose = o.onClose;
    this.#serviceKey = o.serviceKey !== undefined && o.sessions !== false ? toPublicKey(o.serviceKey) : undefined;
    this.#sessionTtl = o.sessionTtl ?? 3600;
    if (o.sessionTransport !== undefined && o.sessionTransport !== 'stream' && o.sessionTransport !== 'http')
      throw new InvalidArgumentError("sessionTransport must be 'stream' or 'http'");
    if (this.#serviceKey && o.sessionTransport !== 'http') this.#stream = new SessionStream(o.url, this.timeout, this.sessionStats);
    if (!Number.isInteger(this.#sessionTtl) || this.#sessionTtl < 60)
      throw new InvalidArgumentError('sessionTtl must be a whole number of seconds, at least 60');
    this.#own = !o.dispatcher;
    this.#dispatcher =
      o.dispatcher ??
      new Pool(this.#origin, {
        connections: o.connections ?? 16,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        connectTimeout: this.timeout,
      });
  }

  /**
   * Signs a proof for a call with the holder key (`signer`'s, else the
   * constructor's), then has the service verify it. Calls that wait in the
   * queue together (same token, same key) are signed as one batch (§4.4); a
   * call sent alone gets a single proof. Never throws.
   */
  async verifyCall(token: TokenInput, call: LocalCall, signer?: CallSigner): Promise<Decision> {
    const base: Base = {};
    try {
      if (!call || typeof call !== 'object') throw new InvalidArgumentError('verifyCall() needs a call');
      Object.assign(base, { tool: call.tool, operation: call.operation, resource: call.resource, callId: call.callId });
      const key = signer?.holderKey ?? this.#holderKey;
      if (!key) {
        throw new ConfigError(
          "remote verifyCall() needs the holder key (RemoteVerifier `holderKey` or the signer's `holderKey`) to sign the call; or use verifyInvocation() with a proof",
        );
      }
      if (key.kind !== 'private') throw new InvalidArgumentError('holderKey must be a private key');
      const t = token instanceof Token ? token : Token.parse(token);
      base.callId = call.callId ?? newCallId();
      // A call that carries approvals goes signed: session envelopes do not carry them (spec §13, §15).
      if (this.#serviceKey && !(call.approvals && call.approvals.length > 0)) {
        // One literal of one shape (not a spread of the caller's object): this runs once per call.
        const c: LocalCall = { tool: call.tool, operation: call.operation, resource: call.resource, args: call.args, callId: base.callId };
        return await this.#sessionCall(t, c, key, signer?.ttl ?? this.#proofTtl, signer?.clock, base, false);
      }
      // Checked and encoded now (a bad call is denied alone); signed when it leaves the queue.
      const { payload, resource, argsDigest } = prepareInvocation(
        t,
        key,
        {
          tool: call.tool,
          operation: call.operation,
          resource: call.resource,
          args: call.args,
          callId: base.callId,
          ttl: signer?.ttl ?? this.#proofTtl,
        },
        signer?.clock,
      );
      // What is signed (normalised resource, argument digest): what the answer must match.
      base.resource = resource;
      base.argsDigest = toHex(argsDigest);
      const expected: ExpectedCall = {
        tool: call.tool,
        args: call.args,
        operation: call.operation,
        resource: call.resource,
        ...(call.approvals ? { approvals: call.approvals } : {}),
      };
      const item: Pending = {
        json: this.#requestJson(t, expected),
        token: t,
        proof: '',
        expected,
        base,
        unsigned: { key, payload },
        resolve: () => {},
      };
      if (this.#maxBatch <= 1 || item.json.length + PROOF_JSON_MAX > BATCH_ITEM_MAX) {
        this.#sign([item], []);
        return await this.#single(item);
      }
      return await this.#enqueue(item);
    } catch (e) {
      return denied(base, toCapframeError(e, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** True when `verifyCall()` goes over sessions (a pinned service key). */
  get sessions(): boolean {
    return this.#serviceKey !== undefined;
  }

  /**
   * One call over the token's session: sealed, sent (with the calls queued
   * in the same turn), its answer opened. A session the service no longer
   * knows (ERR_SESSION_UNKNOWN: it restarted, or evicted it) is replaced and
   * the call retried once (counted in sessionStats.retries).
   */
  async #sessionCall(
    t: Token,
    call: LocalCall,
    key: PrivateKey,
    ttl: number | string,
    clock: Clock | undefined,
    base: Base,
    retried: boolean,
    resent = false,
  ): Promise<Decision> {
    let session: ClientSession;
    try {
      // A live session is used at once (no promise to wait for): the common case, once per call.
      const live = this.#session(t, key, clock);
      session = live instanceof Promise ? await live : live;
    } catch (e) {
      const err = toCapframeError(e, 'ERR_UNAVAILABLE');
      if (err.code === 'ERR_UNAVAILABLE') return this.#sessionUnavailable(t, call, key, ttl, clock, base, err.message);
      return denied(base, err, 'session');
    }
    const sealed = session.seal(call, ttl);
    base = sealed.base;
    let answer: StreamResult = this.#stream && !this.#stream.refused ? await this.#stream.send(sealed.envelope) : 'refused';
    if (answer === 'lost') {
      // The stream went down with the call on it: the service may have taken that counter, so the call is sealed again
      // (a new counter, never the same one twice) and sent once more.
      if (!resent) {
        this.sessionStats.resent++;
        return this.#sessionCall(t, call, key, ttl, clock, base, retried, true);
      }
      answer = new Error('the session stream was lost twice');
    }
    if (answer === 'refused') {
      // The service does not speak the stream (it answered the upgrade with no 101): this call was never sent.
      answer = await new Promise<SessionAnswer | Error>((resolve) => {
        this.#sessionQueue.push({ sealed, resolve });
        if (!this.#sessionDrainScheduled) {
          this.#sessionDrainScheduled = true;
          setImmediate(() => {
            this.#sessionDrainScheduled = false;
            this.#drainSessions();
          });
        }
      });
    }
    if (answer instanceof Error) return this.#sessionUnavailable(t, call, key, ttl, clock, base, `verification service unreachable: ${answer.message}`);
    const d = session.open(sealed, answer);
    if (!d.allowed) {
      if (d.code === 'ERR_SESSION_UNKNOWN' && !retried) {
        this.#forget(t, key, session);
        this.sessionStats.retries++;
        return this.#sessionCall(t, call, key, ttl, clock, base, true, resent);
      }
      if (d.code === 'ERR_SESSION_ANSWER') this.sessionStats.refusedAnswers++;
    }
    return d;
  }

  /** The live session for a token and key, opening one (shared by the calls that wait for it) when there is none or it ends within 30 s. */
  #session(t: Token, key: PrivateKey, clock: Clock | undefined): ClientSession | Promise<ClientSession> {
    let byKey = this.#sessions.get(t);
    if (!byKey) this.#sessions.set(t, (byKey = new Map()));
    const slot = byKey.get(key);
    if (slot && (!slot.session || slot.session.usable(30))) return slot.session ?? slot.opening;
    const next: SessionSlot = { opening: this.#handshake(t, key, clock) };
    byKey.set(key, next);
    next.opening.then(
      (s) => {
        next.session = s;
      },
      () => {
        if (byKey.get(key) === next) byKey.delete(key);
      },
    );
    return next.opening;
  }

  #forget(t: Token, key: PrivateKey, session: ClientSession): void {
    const byKey = this.#sessions.get(t);
    if (byKey?.get(key)?.session === session) byKey.delete(key);
  }

  /** The handshake over HTTP (§13.7): a nonce, then the signed hello and the service's signed reply. */
  async #handshake(t: Token, key: PrivateKey, clock: Clock | undefined): Promise<ClientSession> {
    const base = this.#path.slice(0, -'/v1/verify'.length);
    const step = async (path: string, body: string): Promise<unknown> => {
      let r: { status: number; json: unknown };
      try {
        r = await this.#post(base + path, body);
      } catch (e) {
        throw new UnavailableError(`verification service unreachable: ${(e as Error).message ?? e}`);
      }
      if (r.status !== 200) {
        const j = r.json as { code?: unknown; reason?: unknown };
        if ((r.status === 400 || r.status === 429) && typeof j?.code === 'string' && /^ERR_[A-Z0-9_]{1,60}$/.test(j.code)) {
          throw errorFromCode(j.code as never, `session handshake refused: ${String(j.reason ?? '')}`.slice(0, 400));
        }
        throw new UnavailableError(`verification service answered HTTP ${r.status} to ${path}`);
      }
      return r.json;
    };
    const n = sessionNonceResponseSchema.safeParse(await step('/v1/session/nonce', '{}'));
    if (!n.success) throw new UnavailableError('the service sent no session nonce');
    let offered: Uint8Array;
    try {
      offered = parsePublicKey(n.data.serviceKey);
    } catch {
      throw new SessionAnswerError('the service presents no usable key');
    }
    if (!equalBytes(offered, this.#serviceKey!)) throw new SessionAnswerError('the service presents another key than the pinned one');
    const ttl = Math.max(1, Math.min(this.#sessionTtl, n.data.maxTtl ?? this.#sessionTtl));
    const pending = beginSession(t, key, { serviceKey: this.#serviceKey!, nonce: decodeBase64url(n.data.nonce), ttl, ...(clock ? { clock } : {}) });
    const o = sessionOpenResponseSchema.safeParse(await step('/v1/session/open', JSON.stringify(pending.request)));
    if (!o.success) throw new SessionAnswerError('the service sent no handshake reply');
    this.sessionStats.handshakes++;
    return pending.finish(decodeBase64url(o.data.reply), decodeBase64url(o.data.signature));
  }

  /** Sends queued session calls, up to `maxBatch` per request, at most `maxRequests` requests out. */
  #drainSessions(): void {
    while (this.#sessionQueue.length > 0 && this.#sessionOutstanding < this.#maxOutstanding) {
      const items = this.#sessionQueue.splice(0, Math.max(this.#maxBatch, 1));
      this.#sessionOutstanding++;
      this.sessionStats.requests++;
      const body = '{"calls":[' + items.map((i) => JSON.stringify(i.sealed.envelope)).join(',') + ']}';
      void this.#post(this.#sessionPath, body)
        .then(({ status, json }) => {
          const answers = status === 200 ? readSessionAnswers(json) : undefined;
          if (!answers || answers.length !== items.length) {
            throw new Error(`verification service answered HTTP ${status} without ${items.length} session answers`);
          }
          items.forEach((it, k) => it.resolve(answers[k]!));
        })
        .catch((e: unknown) => {
          for (const it of items) it.resolve(e instanceof Error ? e : new Error(String(e)));
        })
        .finally(() => {
          this.#sessionOutstanding--;
          this.#drainSessions();
        });
    }
  }

  /** The service cannot be asked: the fallback verifier decides on a proof signed now, else ERR_UNAVAILABLE. */
  async #sessionUnavailable(
    t: Token,
    call: LocalCall,
    key: PrivateKey,
    ttl: number | string,
    clock: Clock | undefined,
    base: Base,
    message: string,
  ): Promise<Decision> {
    if (!this.#fallback) return denied(base, new UnavailableError(message), 'session');
    try {
      const { payload } = prepareInvocation(
        t,
        key,
        { tool: call.tool, operation: call.operation, resource: call.resource, args: call.args, callId: call.callId, ttl },
        clock,
      );
      return await this.#fallback.verifyInvocation(t, signInvocation(key, payload), {
        tool: call.tool,
        args: call.args,
        operation: call.operation,
        resource: call.resource,
      });
    } catch (e) {
      return denied(base, new UnavailableError(`${message}; the fallback verifier failed: ${(e as Error)?.message ?? e}`));
    }
  }

  /** Sends a signed proof to the service. Never throws. */
  async verifyInvocation(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision> {
    const base: Base = {};
    try {
      if (!expected || typeof expected !== 'object') throw new InvalidArgumentError('verifyInvocation() needs the expected call');
      base.tool = expected.tool;
      const t = token instanceof Token ? token : Token.parse(token);
      const parsed = Invocation.parse(invocation);
      const text = typeof invocation === 'string' ? invocation : parsed.toString();
      try {
        // For the decision's metadata only (e.g. when the service is down); the service checks the proof.
        const p = decodeInvocationPayload(parsed.block.payload);
        Object.assign(base, { operation: p.operation, resource: p.resource, callId: p.callId, argsDigest: toHex(p.args) });
      } catch {
        /* the service will say what is wrong with it */
      }
      return await this.#send(t, text, expected, base, invocation);
    } catch (e) {
      return denied(base, toCapframeError(e, 'ERR_INVALID_ARGUMENT'));
    }
  }

  async #send(token: Token, invocation: string, expected: ExpectedCall, base: Base, proof: Invocation | string | Uint8Array): Promise<Decision> {
    const item: Pending = { json: this.#requestJson(token, expected, invocation), token, proof, expected, base, unsigned: undefined, resolve: () => {} };
    if (this.#maxBatch <= 1 || item.json.length > BATCH_ITEM_MAX) return this.#single(item);
    return this.#enqueue(item);
  }

  #enqueue(item: Pending): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      item.resolve = resolve;
      this.#queue.push(item);
      // Sent at the end of this event-loop turn: the calls made in the same turn
      // (e.g. by tools whose timers fired together) leave together, signed as one batch.
      if (!this.#drainScheduled) {
        this.#drainScheduled = true;
        setImmediate(() => {
          this.#drainScheduled = false;
          this.#drain();
        });
      }
    });
  }

  /** The request JSON of a call; without `invocation` when the call is not signed yet (#sign adds it). */
  #requestJson(token: Token, expected: ExpectedCall, invocation?: string): string {
    return JSON.stringify({
      token: token.toString(),
      ...(invocation !== undefined ? { invocation } : {}),
      tool: expected.tool,
      args: expected.args,
      ...(expected.operation !== undefined ? { operation: expected.operation } : {}),
      ...(expected.resource !== undefined ? { resource: expected.resource } : {}),
      ...(expected.approvals && expected.approvals.length > 0 ? { approvals: expected.approvals.map(approvalText) } : {}),
    });
  }

  /**
   * Signs the calls among `items` that wait for a signature: those of the
   * same token and key together, as one batch (one signature, §4.4); a call
   * alone as a single proof. Then completes their request JSON. With
   * `batches` (a /v1/verify/batch request being built), each signed batch is
   * added to it once and its calls refer to it (§4.5) instead of each
   * carrying the whole batch in its own proof.
   */
  #sign(items: readonly Pending[], batches: string[]): void {
    // By token: a token names its holder key (prepareInvocation checked the key against it).
    const groups = new Map<Token, Pending[]>();
    for (const item of items) {
      if (!item.unsigned) continue;
      const g = groups.get(item.token);
      if (g) g.push(item);
      else groups.set(item.token, [item]);
    }
    for (const group of groups.values()) {
      const key = group[0]!.unsigned!.key;
      for (let i = 0; i < group.length; i += LIMITS.maxInvocationBatch) {
        const part = group.slice(i, i + LIMITS.maxInvocationBatch);
        const payloads = part.map((it) => it.unsigned!.payload);
        if (part.length === 1) {
          const proof = signInvocation(key, payloads[0]!);
          part[0]!.proof = proof;
          part[0]!.unsigned = undefined;
          part[0]!.json = '{"invocation":"' + proof.toString() + '",' + part[0]!.json.slice(1);
          continue;
        }
        const { batch, signature } = signBatchParts(key, payloads);
        const ref = batches.length;
        batches.push('{"payload":"' + encodeBase64url(batch) + '","signature":"' + encodeBase64url(signature) + '"}');
        let proofs: Invocation[] | undefined;
        part.forEach((it, k) => {
          it.proof = () => (proofs ??= Invocation.fromSignedBatch(payloads, batch, signature))[k]!;
          it.unsigned = undefined;
          it.json = '{"batch":' + ref + ',"index":' + k + ',"item":"' + encodeBase64url(payloads[k]!) + '",' + it.json.slice(1);
        });
      }
    }
  }

  async #post(path: string, body: string): Promise<{ status: number; json: unknown }> {
    const res = await this.#dispatcher.request({
      origin: this.#origin,
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      headersTimeout: this.timeout,
      bodyTimeout: this.timeout,
      signal: AbortSignal.timeout(this.timeout),
    });
    const len = Number(res.headers['content-length'] ?? 0);
    if (len > MAX_RESPONSE) {
      res.body.destroy();
      throw new Error(`response of ${len} bytes`);
    }
    // Counted while streaming: a response without content-length is never buffered past the cap.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > MAX_RESPONSE) {
        res.body.destroy();
        throw new Error('response too large');
      }
      chunks.push(c as Buffer);
    }
    return { status: res.statusCode, json: JSON.parse(Buffer.concat(chunks, size).toString('utf8')) };
  }

  async #single(item: Pending): Promise<Decision> {
    let r: { status: number; json: unknown };
    try {
      r = await this.#post(this.#path, item.json);
    } catch (e) {
      return this.#unavailable(item, `verification service unreachable: ${(e as Error).message ?? e}`);
    }
    return this.#toDecision(r.status, r.json, item);
  }

  /**
   * Sends queued calls while fewer than `maxRequests` requests are out: at
   * light load every call goes alone at once (lowest latency); when every
   * connection is busy, calls wait and then leave together in one
   * /v1/verify/batch round trip (up to `maxBatch`), as soon as a request returns.
   */
  #drain(): void {
    while (this.#queue.length > 0 && this.#outstanding < this.#maxOutstanding) {
      const items = this.#queue.splice(0, this.#maxBatch);
      const batches: string[] = [];
      try {
        this.#sign(items, batches);
      } catch (e) {
        // Not expected (the payloads were checked when queued); deny, never send unsigned calls.
        for (const item of items) item.resolve(denied(item.base, toCapframeError(e, 'ERR_INTERNAL')));
        continue;
      }
      this.#outstanding++;
      const done = (): void => {
        this.#outstanding--;
        this.#drain();
      };
      // Whatever goes wrong (e.g. a fallback verifier that throws), every queued call is
      // answered (denied) and its slot freed: a queued promise never hangs.
      const failed = (e: unknown): void => {
        for (const item of items) item.resolve(denied(item.base, new UnavailableError(`remote verification failed: ${(e as Error)?.message ?? e}`)));
      };
      if (items.length === 1) {
        void this.#single(items[0]!)
          .then((d) => {
            items[0]!.resolve(d);
          }, failed)
          .finally(done);
      } else {
        void this.#batch(items, batches).catch(failed).finally(done);
      }
    }
  }

  async #batch(items: Pending[], batches: readonly string[]): Promise<void> {
    const body = '{"requests":[' + items.map((i) => i.json).join(',') + ']' + (batches.length > 0 ? ',"batches":[' + batches.join(',') + ']' : '') + '}';
    let decisions: unknown[];
    try {
      const { status, json } = await this.#post(this.#batchPath, body);
      const ds = (json as { decisions?: unknown })?.decisions;
      if (status !== 200 || !Array.isArray(ds) || ds.length !== items.length) {
        throw new Error(`verification service answered HTTP ${status} without ${items.length} decisions`);
      }
      decisions = ds;
    } catch (e) {
      for (const item of items) item.resolve(this.#unavailable(item, `verification service unreachable: ${(e as Error).message ?? e}`));
      return;
    }
    // Resolved directly (no promise per item unless a fallback verifier has to decide).
    for (let k = 0; k < items.length; k++) items[k]!.resolve(this.#toDecision(200, decisions[k], items[k]!));
  }

  #toDecision(status: number, json: unknown, item: Pending): Decision | Promise<Decision> {
    const { expected, base } = item;
    const parsed = decisionResponseSchema.safeParse(json);
    if (!parsed.success) {
      return this.#unavailable(item, `verification service answered HTTP ${status} without a decision`);
    }
    const d = parsed.data;
    // 200: a decision. 400/413: the service refused this request (malformed, too large): a denial
    // with that code. Anything else (5xx, 404 from a wrong URL, ...): the service is not usable.
    if (!(status === 200 || ((status === 400 || status === 413) && !d.allowed))) {
      return this.#unavailable(item, `verification service answered HTTP ${status}`);
    }
    // An allow must be about this call: the tool, and the operation, resource and call id
    // when known here (a mixed-up or foreign answer never authorizes a different call).
    if (d.allowed) {
      const differs = d.tool !== expected.tool ? 'tool' : ALLOW_MUST_MATCH.find((k) => base[k] !== undefined && d[k] !== base[k]);
      if (differs) return this.#unavailable(item, `verification service answered an allow for another call (${differs} differs)`);
    }
    const fields: Record<string, unknown> = { ...base };
    for (const k of ANSWER_FIELDS) if (d[k] !== undefined) fields[k] = d[k];
    if (d.allowed) {
      return Object.freeze({ ...fields, mode: d.mode, allowed: true, grant: d.grant, expiresAt: d.expiresAt }) as unknown as Allowed;
    }
    const error =
      d.code === 'ERR_LIMIT' && d.limit
        ? new LimitError(d.reason, { limit: stripUndefined(d.limit) })
        : d.code === 'ERR_APPROVAL_REQUIRED' && d.approval
          ? new ApprovalRequiredError(d.reason, d.approval)
          : errorFromCode(d.code, d.reason);
    return Object.freeze({ ...fields, mode: d.mode ?? 'signed', allowed: false, code: error.code, reason: error.message, error }) as Denied;
  }

  /** The service could not decide: the fallback verifier decides, else ERR_UNAVAILABLE. Never rejects. */
  #unavailable({ token, proof, expected, base }: Pending, message: string): Decision | Promise<Decision> {
    if (this.#fallback) {
      const failed = (e: unknown): Decision => denied(base, new UnavailableError(`${message}; the fallback verifier failed: ${(e as Error)?.message ?? e}`));
      try {
        // A fallback that throws or rejects is a denial too: verifyCall() and verifyInvocation() never reject.
        return Promise.resolve(this.#fallback.verifyInvocation(token, typeof proof === 'function' ? proof() : proof, expected)).then(undefined, failed);
      } catch (e) {
        return failed(e);
      }
    }
    return denied(base, new UnavailableError(message));
  }

  /** Closes the keep-alive connections (only those of the client's own pool). */
  /** The verifier that decides while the service cannot (remote.fallback: local), if any. */
  get fallback(): RemoteVerifierOptions['fallback'] {
    return this.#fallback;
  }

  /** How session calls travel now: 'stream', or 'http' (configured so, or the service refused the upgrade). */
  get sessionTransport(): 'stream' | 'http' {
    return this.#stream && !this.#stream.refused ? 'stream' : 'http';
  }

  async close(): Promise<void> {
    this.#stream?.close();
    await this.#onClose?.();
    if (this.#own) await this.#dispatcher.close();
  }
}

/** Builds the client from a parsed `remote:` section; `local` is required for `fallback: local`. */
export function remoteVerifierFromConfig(
  c: RemoteConfig,
  local?: RemoteVerifierOptions['fallback'],
  onClose?: RemoteVerifierOptions['onClose'],
): RemoteVerifier {
  if (c.fallback === 'local') {
    if (!local) throw new InvalidArgumentError('remote.fallback: local needs a local Verifier');
    // The fallback decides for the service: with a replay store of its own it would accept a proof
    // the service accepted, and without the service's revocation list a revoked token.
    const v = local as { replay?: { shared?: boolean }; revocation?: unknown };
    if (v.replay?.shared !== true) {
      throw new ConfigError(
        "remote.fallback: local needs the replay store the service uses (replay.store: redis, or sqlite with the service's file); refusing to start with a store of its own",
      );
    }
    if (c.revocation !== 'none' && v.revocation === undefined) {
      throw new ConfigError(
        "remote.fallback: local needs the service's revocation list (or remote.revocation: none when the service has none); refusing to start without it",
      );
    }
  }
  return new RemoteVerifier({
    url: c.url,
    ...(c.timeout !== undefined ? { timeout: c.timeout } : {}),
    ...(c.connections !== undefined ? { connections: c.connections } : {}),
    ...(c.batch !== undefined ? { batch: c.batch } : {}),
    ...(c.fallback === 'local' ? { fallback: local } : {}),
    ...(c.serviceKey !== undefined ? { serviceKey: c.serviceKey } : {}),
    ...(c.sessions !== undefined ? { sessions: c.sessions } : {}),
    ...(c.sessionTtl !== undefined ? { sessionTtl: c.sessionTtl } : {}),
    ...(c.sessionTransport !== undefined ? { sessionTransport: c.sessionTransport } : {}),
    ...(onClose ? { onClose } : {}),
  });
}
