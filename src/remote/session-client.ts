/**
 * The client side of sessions (docs/spec.md §13), independent of the
 * carrier: `beginSession` makes the holder's signed hello and, with the
 * service's reply, a `ClientSession`, which seals calls (counter + HMAC tag)
 * and opens answers (HMAC tag under the answer key, bound to the call's tag
 * and counter). A forged, replayed or mismatched answer is a denial
 * (ERR_SESSION_ANSWER), never an allow. The HTTP carrier is RemoteVerifier;
 * any other (e.g. MCP) sends the same envelopes.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { equalBytes, sha256 } from '../crypto/hash.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { tagsEqual } from '../crypto/session-keys.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import { ApprovalRequiredError, CapframeError, InvalidArgumentError, SessionAnswerError, type ApprovalNeed } from '../errors.ts';
import { MAX_APPROVERS } from '../token/approval.ts';
import { errorFromCode, toCapframeError } from '../error-codes.ts';
import { createSessionHello } from '../holder/session-hello.ts';
import { argsDigestBuffer } from '../token/args.ts';
import { DEFAULTS, LIMITS } from '../token/limits.ts';
import { normalizeResource } from '../token/resource.ts';
import { decodeSessionReply, deriveSessionKeys, MAX_COUNTER, replySignedMessage, sessionAnswerTag, sessionCallTag } from '../token/session.ts';
import type { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import type { SessionAnswer, SessionCall, SessionOpenRequest } from '../verify/session-table.ts';
import type { Allowed, Decision, Denied, LocalCall } from '../verify/verifier.ts';
import type { ErrorCode } from '../errors.ts';

type AnswerDecision =
  | {
      allowed: true;
      mode: string;
      tool: string;
      operation: string;
      resource: string;
      callId: string;
      argsDigest: string;
      subject?: string;
      chainIds?: string[];
      grant: unknown;
      expiresAt: number;
    }
  | { allowed: false; code: ErrorCode; reason: string; subject?: string; chainIds?: string[] };

const isStr = (v: unknown): v is string => typeof v === 'string';

/**
 * The decision of an answer, checked by hand (once per call on the client's
 * hot path): the members this client uses, typed; undefined otherwise.
 */
function readDecision(j: unknown): AnswerDecision | undefined {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
  const o = j as Record<string, unknown>;
  if (o.subject !== undefined && !isStr(o.subject)) return undefined;
  if (o.chainIds !== undefined && !(Array.isArray(o.chainIds) && o.chainIds.every(isStr))) return undefined;
  if (o.allowed === true) {
    const g = o.grant as Record<string, unknown> | null;
    if (!(isStr(o.mode) && isStr(o.tool) && isStr(o.operation) && isStr(o.resource) && isStr(o.callId) && isStr(o.argsDigest))) return undefined;
    if (typeof o.expiresAt !== 'number' || typeof g !== 'object' || g === null) return undefined;
    if (!isStr(g.resource) || !Array.isArray(g.permissions) || !g.permissions.every(isStr) || typeof g.constraints !== 'object' || g.constraints === null)
      return undefined;
    return o as AnswerDecision;
  }
  if (o.allowed === false && isStr(o.code) && /^ERR_[A-Z0-9_]{1,60}$/.test(o.code) && isStr(o.reason)) return o as AnswerDecision;
  return undefined;
}

/** The `approval` member of an ERR_APPROVAL_REQUIRED decision (as decisionToJson writes it), checked; undefined otherwise. */
function readApprovalNeed(v: unknown): ApprovalNeed | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  const count = (n: unknown, lo: number): n is number => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= MAX_APPROVERS;
  if (!count(a.got, 0) || !count(a.need, 1) || !isStr(a.tip) || !/^[0-9a-f]{32}$/.test(a.tip)) return undefined;
  if (!Array.isArray(a.approvers) || a.approvers.length > MAX_APPROVERS || !a.approvers.every((k) => isStr(k) && k.length <= 64)) return undefined;
  return { got: a.got, need: a.need, approvers: a.approvers as string[], tip: a.tip };
}

/** The open request as a carrier sends it (base64url fields, §13.7). */
export interface SessionOpenText {
  readonly token: string;
  readonly hello: string;
  readonly signature: string;
}

export interface BeginSessionOptions {
  /** The service's Ed25519 public key, pinned in the client's config. */
  readonly serviceKey: Uint8Array;
  /** The nonce the service gave for this handshake (16 bytes). */
  readonly nonce: Uint8Array;
  /** Session lifetime asked for, seconds (at most the token's remaining life). Default 3600. */
  readonly ttl?: number;
  readonly clock?: Clock;
  readonly backend?: Ed25519Backend;
  /** @internal Test vectors only. */
  readonly ephemeral?: Uint8Array;
}

export interface PendingSession {
  /** What to send to the service. */
  readonly request: SessionOpenText;
  /** The same request with its bytes (for carriers that send binary). */
  readonly raw: SessionOpenRequest;
  /** Checks the service's signed reply and derives the keys. Throws ERR_SESSION_ANSWER when it is not the pinned service's answer to this hello. */
  finish(reply: Uint8Array, signature: Uint8Array): ClientSession;
}

/** Starts a handshake: the hello signed by the token's holder key (§13.2). */
export function beginSession(token: Token, holderKey: PrivateKey, o: BeginSessionOptions): PendingSession {
  const backend = o.backend ?? defaultBackend();
  const clock = o.clock ?? systemClock;
  const h = createSessionHello(token, holderKey, {
    serviceKey: o.serviceKey,
    nonce: o.nonce,
    ttl: o.ttl ?? 3600,
    clock,
    backend,
    ...(o.ephemeral ? { ephemeral: o.ephemeral } : {}),
  });
  const serviceKey = Uint8Array.from(o.serviceKey);
  const tokenText = token.toString();
  return {
    request: { token: tokenText, hello: encodeBase64url(h.hello), signature: encodeBase64url(h.signature) },
    raw: { token: tokenText, hello: h.hello, signature: h.signature },
    finish(reply: Uint8Array, signature: Uint8Array): ClientSession {
      try {
        if (!(signature instanceof Uint8Array) || signature.length !== 64 || !backend.verify(serviceKey, replySignedMessage(reply), signature)) {
          throw new SessionAnswerError('the handshake reply is not signed by the pinned service key');
        }
        const r = decodeSessionReply(reply);
        if (!equalBytes(r.helloDigest, sha256(h.hello))) throw new SessionAnswerError('the handshake reply answers another hello');
        if (r.exp !== h.fields.exp) throw new SessionAnswerError('the handshake reply names another expiry');
        const keys = deriveSessionKeys(h.ephemeral.privateKey, r.serviceKey, h.hello, reply);
        return new ClientSession(r.session, keys.callKey, keys.answerKey, r.exp, clock);
      } catch (e) {
        throw e instanceof SessionAnswerError ? e : new SessionAnswerError(`unusable handshake reply: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

/** A sealed call: the envelope to send and what its answer must match. */
export interface SealedCall {
  readonly envelope: SessionCall;
  readonly tag: Uint8Array;
  readonly base: { tool: string; operation: string; resource: string; callId: string; argsDigest: string };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const B64U = /^[A-Za-z0-9_-]+$/;

/** A session denial of a sealed call, one fixed shape. */
function sessionDenial(base: SealedCall['base'], error: CapframeError): Mutable<Denied> {
  return {
    tool: base.tool,
    operation: base.operation,
    resource: base.resource,
    callId: base.callId,
    argsDigest: base.argsDigest,
    mode: 'session',
    allowed: false,
    code: error.code,
    reason: error.message,
    error,
  };
}

export class ClientSession {
  readonly id: Uint8Array;
  readonly idText: string;
  /** When the session ends (unix seconds). */
  readonly exp: number;
  readonly #callKey: Uint8Array;
  readonly #answerKey: Uint8Array;
  readonly #clock: Clock;
  #counter = 0;

  constructor(id: Uint8Array, callKey: Uint8Array, answerKey: Uint8Array, exp: number, clock: Clock = systemClock) {
    this.id = id;
    this.idText = encodeBase64url(id);
    this.#callKey = callKey;
    this.#answerKey = answerKey;
    this.exp = exp;
    this.#clock = clock;
  }

  /** Counters used so far. */
  get counter(): number {
    return this.#counter;
  }

  /** True while the session has more than `margin` seconds (and counters) left. */
  usable(margin = 0): boolean {
    return this.#clock() + margin < this.exp && this.#counter < MAX_COUNTER;
  }

  /** Seals one call (§13.5): the next counter and the HMAC tag over the fields a signed invocation binds. Throws on a bad call. */
  seal(call: LocalCall, ttl: number | string = DEFAULTS.invocationWindow): SealedCall {
    if (!call || typeof call !== 'object') throw new InvalidArgumentError('seal() needs a call');
    if (typeof call.args !== 'object' || call.args === null || Array.isArray(call.args)) throw new InvalidArgumentError('args must be an object');
    const life = typeof ttl === 'number' && Number.isInteger(ttl) && ttl > 0 ? ttl : parseDuration(ttl);
    if (life > LIMITS.maxInvocationWindow) throw new InvalidArgumentError(`a call lives at most ${LIMITS.maxInvocationWindow} s`);
    const resource = normalizeResource(call.resource);
    // One digest per call: tagged here, its hex form kept for the answer check.
    const digest = argsDigestBuffer(call.args);
    // Text fields are checked once, by sessionCallMessage (the §4.1 limits, as checkName would).
    const { tool, operation, callId } = call;
    const counter = ++this.#counter;
    const exp = Math.floor(this.#clock()) + life;
    const tag = sessionCallTag(this.#callKey, this.id, { counter, tool, operation, resource, argsDigest: digest, callId, exp });
    return {
      envelope: { session: this.idText, counter, tool, operation, resource, args: call.args, callId, exp, tag: tag.toString('base64url') },
      tag,
      base: { tool, operation, resource, callId, argsDigest: digest.toString('hex') },
    };
  }

  /**
   * The decision an answer carries, when it is this session's answer to
   * this call: a tagged answer is checked under the answer key (bound to the
   * call's counter and tag); an untagged one can only deny. Anything else is
   * a denial with ERR_SESSION_ANSWER. Never throws.
   */
  open(sealed: SealedCall, answer: SessionAnswer): Decision {
    const base = sealed.base;
    try {
      if (!answer || typeof answer !== 'object' || typeof answer.decision !== 'string') throw new SessionAnswerError('the answer is not a session answer');
      if (answer.counter !== sealed.envelope.counter) throw new SessionAnswerError('the answer is for another call (counter differs)');
      let tagged = false;
      if (answer.tag !== undefined) {
        const expect = sessionAnswerTag(this.#answerKey, this.id, sealed.envelope.counter, sealed.tag, answer.decision);
        // Buffer's decoder skips characters outside the alphabet, so only a 43-character text of the alphabet is decoded.
        const got = typeof answer.tag === 'string' && answer.tag.length === 43 && B64U.test(answer.tag) ? Buffer.from(answer.tag, 'base64url') : undefined;
        if (!got || !tagsEqual(expect, got)) throw new SessionAnswerError('the answer tag does not verify: forged, replayed or for another call');
        tagged = true;
      }
      let json: unknown;
      try {
        json = JSON.parse(answer.decision);
      } catch {
        throw new SessionAnswerError('the answer decision is not JSON');
      }
      const d = readDecision(json);
      if (!d) throw new SessionAnswerError('the answer holds no decision');
      if (d.allowed) {
        if (!tagged) throw new SessionAnswerError('an allow without an answer tag is never accepted');
        if (d.mode !== 'session') throw new SessionAnswerError('a session answer allows in another mode');
        const differs =
          d.tool !== base.tool
            ? 'tool'
            : d.operation !== base.operation
              ? 'operation'
              : d.resource !== base.resource
                ? 'resource'
                : d.callId !== base.callId
                  ? 'callId'
                  : d.argsDigest !== base.argsDigest
                    ? 'argsDigest'
                    : undefined;
        if (differs) throw new SessionAnswerError(`the answer allows another call (${differs} differs)`);
        // One fixed shape, built at once (a spread of the call's fields into a growing object costs microseconds per call).
        const out: Mutable<Allowed> = {
          tool: base.tool,
          operation: base.operation,
          resource: base.resource,
          callId: base.callId,
          argsDigest: base.argsDigest,
          mode: 'session',
          allowed: true,
          grant: d.grant as unknown as Allowed['grant'],
          expiresAt: d.expiresAt,
        };
        if (d.subject !== undefined) out.subject = d.subject;
        if (d.chainIds !== undefined) out.chainIds = d.chainIds;
        return Object.freeze(out);
      }
      // An approval gate's counts and approvers (§15.4), taken only from an answer the service tagged:
      // the LangChain middleware builds its approval request from them, as on the signed path.
      const need = tagged && d.code === 'ERR_APPROVAL_REQUIRED' ? readApprovalNeed((json as { approval?: unknown }).approval) : undefined;
      const error = need ? new ApprovalRequiredError(d.reason, need) : errorFromCode(d.code, d.reason);
      const out = sessionDenial(base, error);
      if (d.subject !== undefined) out.subject = d.subject;
      if (d.chainIds !== undefined) out.chainIds = d.chainIds;
      return Object.freeze(out);
    } catch (e) {
      return Object.freeze(sessionDenial(base, toCapframeError(e, 'ERR_SESSION_ANSWER')));
    }
  }
}
