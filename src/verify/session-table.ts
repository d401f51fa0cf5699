/**
 * The service side of sessions (docs/spec.md §13): nonces, the handshake,
 * and the per-call check of session calls (HMAC tag, counter window, then
 * the same call rules as every other path: rules.ts).
 *
 * Transport-agnostic: the HTTP routes (src/server/routes/session.ts) and any
 * other carrier (e.g. MCP) hand it decoded envelopes and send back what it
 * returns. Memory is bounded: nonces, live sessions per holder and in total
 * are capped, and nonces (hence handshakes, each an Ed25519 verify) are
 * rate-limited per client.
 */
import { randomBytes } from 'node:crypto';
import type { Signer } from '../crypto/signer.ts';
import { equalBytes, toHex } from '../crypto/hash.ts';
import { tagsEqual, x25519Pair } from '../crypto/session-keys.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import {
  ExpiredError,
  InvalidArgumentError,
  InvocationMismatchError,
  MalformedError,
  NotYetValidError,
  ReplayError,
  RevokedError,
  SessionCounterError,
  SessionLimitError,
  SessionTagError,
  SessionUnknownError,
  SignatureInvalidError,
} from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import { argsDigestBuffer } from '../token/args.ts';
import { normalizeResource } from '../token/resource.ts';
import { LIMITS } from '../token/limits.ts';
import { Token } from '../token/token.ts';
import type { Chain } from '../token/chain.ts';
import {
  decodeSessionHello,
  deriveSessionKeys,
  encodeSessionReply,
  helloSignedMessage,
  MAX_SESSION_SECONDS,
  replySignedMessage,
  sessionAnswerTag,
  sessionCallTag,
} from '../token/session.ts';
import { sha256 } from '../crypto/hash.ts';
import { checkCallNow, type Authorization, type CallFacts } from './rules.ts';
import type { ReplayStore } from './replay.ts';
import type { Allowed, Decision, Denied, Verifier } from './verifier.ts';

/** One session call as a carrier delivers it (the HTTP binding's JSON, §13.7). */
export interface SessionCall {
  /** base64url of the 16-byte session id. */
  readonly session: string;
  readonly counter: number;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource in normal form. */
  readonly resource: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly callId: string;
  readonly exp: number;
  /** base64url of the 32-byte HMAC tag. */
  readonly tag: string;
}

/** The answer to one session call: the decision's JSON text, tagged when the session is known. */
export interface SessionAnswer {
  readonly counter: number;
  /** The decision as JSON text (exactly the bytes the tag covers). */
  readonly decision: string;
  /** base64url HMAC tag (§13.6); absent when the service cannot tag (unknown session, unreadable call). */
  readonly tag?: string;
}

export interface SessionOpenRequest {
  readonly token: string;
  readonly hello: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SessionOpenAnswer {
  readonly reply: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SessionTableOptions {
  /** Trusted keys, clock, skew, revocation, limit store and signature backend come from here; its replay store is not used (counters replace it). */
  readonly verifier: Verifier;
  /** The service key that signs handshake replies; clients pin its public key. */
  readonly signer: Signer;
  /** Longest session granted, seconds. Default 3600, at most 86400. */
  readonly maxTtl?: number;
  /** Live sessions per holder key; a new one beyond it ends that holder's oldest. Default 64. */
  readonly maxPerHolder?: number;
  /** Live sessions in total; beyond it new handshakes are refused (ERR_SESSION_LIMIT). Default 100 000. */
  readonly maxSessions?: number;
  /** Nonces (handshakes) per second per client, with a burst of twice that. Default 20. */
  readonly handshakesPerSecond?: number;
  /** Counters accepted out of order behind the highest seen. Default 1024. */
  readonly window?: number;
  /** Largest jump of a counter past the highest seen. Default 65 536. */
  readonly maxAhead?: number;
}

/**
 * Estimated heap bytes of one live session besides its counter window and its parsed token (counted as the token
 * text's length, which errs high): with a 252-character token and the default window, 2,380 estimated against
 * 2,282 measured with --expose-gc (bench/session-micro.ts).
 */
export const SESSION_BYTES_BASE = 2000;
const NONCE_TTL = 60;
const MAX_NONCES = 10_000;
const MAX_CLIENTS = 10_000;

interface Session {
  readonly id: Uint8Array;
  readonly idText: string;
  readonly token: Token;
  readonly holder: string;
  readonly callKey: Uint8Array;
  readonly answerKey: Uint8Array;
  readonly exp: number;
  /** Highest counter seen. */
  high: number;
  /** Bit i: counter high - i seen (i < window). */
  readonly seen: Uint32Array;
  /** Set when the token was found revoked: the session ends once that denial is answered. */
  ended: boolean;
  /** Estimated heap bytes (SESSION_BYTES_BASE, the window, the token). */
  readonly bytes: number;
}

/** Counters replace the replay store for session calls: the rules' replay step always passes. */
const COUNTER_CHECKED: ReplayStore = { checkAndRecord: () => true };

type Base = {
  tool: string | undefined;
  operation: string | undefined;
  resource: string | undefined;
  callId: string | undefined;
  argsDigest: string | undefined;
  subject: string | undefined;
  chainIds: readonly string[] | undefined;
  mode: 'session';
};

/** The members of `base` that are set, in one fixed order (a decision is built once, never grown: see allow()). */
function decided(base: Base, tail: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (base.tool !== undefined) d.tool = base.tool;
  if (base.operation !== undefined) d.operation = base.operation;
  if (base.resource !== undefined) d.resource = base.resource;
  if (base.callId !== undefined) d.callId = base.callId;
  if (base.argsDigest !== undefined) d.argsDigest = base.argsDigest;
  if (base.subject !== undefined) d.subject = base.subject;
  if (base.chainIds !== undefined) d.chainIds = base.chainIds;
  d.mode = 'session';
  for (const k in tail) d[k] = tail[k];
  return d;
}

function allow(base: Base, a: Authorization): Allowed {
  // The common case, every member known: one literal of one shape (V8 builds and freezes it in well under a microsecond).
  if (
    base.tool !== undefined &&
    base.operation !== undefined &&
    base.resource !== undefined &&
    base.callId !== undefined &&
    base.argsDigest !== undefined &&
    base.subject !== undefined &&
    base.chainIds !== undefined
  ) {
    const d = {
      tool: base.tool,
      operation: base.operation,
      resource: base.resource,
      callId: base.callId,
      argsDigest: base.argsDigest,
      subject: base.subject,
      chainIds: base.chainIds,
      mode: 'session' as const,
      allowed: true as const,
      grant: a.grant,
      expiresAt: a.expiresAt,
    };
    return Object.freeze(d);
  }
  return Object.freeze(decided(base, { allowed: true, grant: a.grant, expiresAt: a.expiresAt })) as unknown as Allowed;
}

function deny(base: Base, e: unknown): Denied {
  const error = toCapframeError(e);
  return Object.freeze(decided(base, { allowed: false, code: error.code, reason: error.message, error })) as unknown as Denied;
}

export class SessionTable {
  readonly verifier: Verifier;
  readonly signer: Signer;
  readonly maxTtl: number;
  readonly maxPerHolder: number;
  readonly maxSessions: number;
  readonly window: number;
  readonly maxAhead: number;
  readonly #rate: number;
  readonly #sessions = new Map<string, Session>();
  readonly #byHolder = new Map<string, Set<string>>();
  readonly #nonces = new Map<string, number>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  /** Sum of the live sessions' estimated bytes. */
  #bytes = 0;
  /** Calls whose tag verified, with that tag's bytes: only their answers are tagged (a forged call gets an untagged denial). */
  readonly #tagged = new WeakMap<SessionCall, Buffer>();
  /**
   * Counts for metrics. `unknown`: calls naming no live session (never opened, ended, or lost in a restart),
   * each of which makes a client open a new session and send its call once more.
   */
  readonly counts = { opened: 0, refused: 0, evicted: 0, expired: 0, revoked: 0, unknown: 0 };

  constructor(o: SessionTableOptions) {
    if (!o?.verifier || !o.signer) throw new InvalidArgumentError('a SessionTable needs a verifier and the service signer');
    const int = (v: number | undefined, d: number, lo: number, hi: number, name: string) => {
      const n = v ?? d;
      if (!Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${name} must be an integer from ${lo} to ${hi}`);
      return n;
    };
    this.verifier = o.verifier;
    this.signer = o.signer;
    this.maxTtl = int(o.maxTtl, 3600, 1, MAX_SESSION_SECONDS, 'maxTtl');
    this.maxPerHolder = int(o.maxPerHolder, 64, 1, 1_000_000, 'maxPerHolder');
    this.maxSessions = int(o.maxSessions, 100_000, 1, 10_000_000, 'maxSessions');
    this.window = int(o.window, 1024, 32, 65_536, 'window');
    this.window = Math.ceil(this.window / 32) * 32;
    this.maxAhead = int(o.maxAhead, 65_536, 1, 1 << 30, 'maxAhead');
    this.#rate = int(o.handshakesPerSecond, 20, 1, 1_000_000, 'handshakesPerSecond');
  }

  /** Live sessions, outstanding nonces and the estimated heap bytes they hold. */
  stats(): { sessions: number; nonces: number; bytes: number; bytesPerSession: number } {
    const n = this.#sessions.size;
    // Per session: the mean of the live ones, or the fixed part when there are none.
    const per = n > 0 ? Math.floor(this.#bytes / n) : SESSION_BYTES_BASE + this.window / 8;
    return { sessions: n, nonces: this.#nonces.size, bytes: this.#bytes + this.#nonces.size * 100, bytesPerSession: per };
  }

  #now(): number {
    return Math.floor(this.verifier.clock());
  }

  /**
   * A fresh 16-byte nonce for one handshake, valid 60 s and usable once.
   * `client` names the caller for the rate limit (e.g. its address).
   * Throws ERR_SESSION_LIMIT when the client asks too often or too many are outstanding.
   */
  nonce(client: string): { nonce: Uint8Array; serviceKey: Uint8Array; expiresAt: number } {
    const now = this.#now();
    const t = performance.now() / 1000;
    let b = this.#buckets.get(client);
    if (!b) {
      if (this.#buckets.size >= MAX_CLIENTS) {
        for (const [k, v] of this.#buckets) if (v.tokens + (t - v.at) * this.#rate >= 2 * this.#rate) this.#buckets.delete(k);
        if (this.#buckets.size >= MAX_CLIENTS) throw new SessionLimitError('too many clients are opening sessions; try again later');
      }
      b = { tokens: 2 * this.#rate, at: t };
      this.#buckets.set(client, b);
    }
    b.tokens = Math.min(2 * this.#rate, b.tokens + (t - b.at) * this.#rate);
    b.at = t;
    if (b.tokens < 1) {
      this.counts.refused++;
      throw new SessionLimitError(`at most ${this.#rate} handshakes per second per client`);
    }
    b.tokens -= 1;
    if (this.#nonces.size >= MAX_NONCES) {
      for (const [k, exp] of this.#nonces) if (exp <= now) this.#nonces.delete(k);
      if (this.#nonces.size >= MAX_NONCES) throw new SessionLimitError('too many handshakes are outstanding; try again later');
    }
    const nonce = new Uint8Array(randomBytes(16));
    this.#nonces.set(toHex(nonce), now + NONCE_TTL);
    return { nonce, serviceKey: this.signer.publicKey, expiresAt: now + NONCE_TTL };
  }

  /**
   * Checks a hello (§13.2) and answers with the signed reply (§13.3); the
   * session is then live. Rejects with a typed CapframeError.
   */
  async open(req: SessionOpenRequest): Promise<SessionOpenAnswer> {
    if (!req || typeof req.token !== 'string' || !(req.hello instanceof Uint8Array) || !(req.signature instanceof Uint8Array)) {
      throw new MalformedError('a session open request has a token, a hello and a signature');
    }
    const h = decodeSessionHello(req.hello);
    const nonceKey = toHex(h.nonce);
    const nonceExp = this.#nonces.get(nonceKey);
    // Used up whatever happens next: a hello is answered at most once.
    this.#nonces.delete(nonceKey);
    const now = this.#now();
    if (nonceExp === undefined) throw new ReplayError('the hello names a nonce this service did not issue or already used');
    if (now >= nonceExp) throw new ExpiredError('the nonce of the hello has expired');
    if (req.signature.length !== 64) throw new MalformedError('a hello signature is 64 bytes');
    if (!equalBytes(h.serviceKey, this.signer.publicKey)) throw new InvocationMismatchError('the hello is for another service key');
    const token = Token.parse(req.token, { maxBytes: this.verifier.maxTokenBytes, maxDepth: this.verifier.maxDepth });
    const chain = this.verifier.verifyToken(token);
    if (!equalBytes(h.tip, chain.tip)) throw new InvocationMismatchError('the hello was made for another token');
    if (!this.verifier.backend.verify(chain.holder, helloSignedMessage(req.hello), req.signature)) {
      throw new SignatureInvalidError("the hello is not signed by the token's holder key");
    }
    const skew = this.verifier.clockSkew;
    if (chain.nbf > now + skew) throw new NotYetValidError('token is not valid yet');
    if (now >= chain.exp + skew) throw new ExpiredError('token has expired');
    if (h.iat > now + skew) throw new NotYetValidError('the hello is issued in the future');
    if (now >= h.exp) throw new ExpiredError('the session asked for has already expired');
    if (h.exp > chain.exp) throw new InvalidArgumentError("a session may not outlive its token's expiry");
    if (h.exp > now + this.maxTtl + skew) throw new InvalidArgumentError(`a session lives at most ${this.maxTtl} s on this service`);
    await this.verifier.revocation?.check(chain, now);
    this.#makeRoom(now);
    const eph = x25519Pair();
    const id = new Uint8Array(randomBytes(16));
    const reply = encodeSessionReply({ helloDigest: sha256(req.hello), serviceKey: eph.publicKey, session: id, exp: h.exp });
    const keys = deriveSessionKeys(eph.privateKey, h.clientKey, req.hello, reply);
    const signature = await this.signer.sign(replySignedMessage(reply));
    // Checked again after the (asynchronous) signature: concurrent handshakes may have filled the table.
    this.#makeRoom(this.#now());
    const holder = toHex(chain.holder);
    const s: Session = {
      id,
      idText: encodeBase64url(id),
      token,
      holder,
      callKey: keys.callKey,
      answerKey: keys.answerKey,
      exp: h.exp,
      high: 0,
      seen: new Uint32Array(this.window / 32),
      ended: false,
      bytes: SESSION_BYTES_BASE + this.window / 8 + req.token.length,
    };
    let mine = this.#byHolder.get(holder);
    if (!mine) this.#byHolder.set(holder, (mine = new Set()));
    while (mine.size >= this.maxPerHolder) {
      const oldest = mine.values().next().value as string;
      this.#drop(oldest);
      this.counts.evicted++;
    }
    mine.add(s.idText);
    this.#sessions.set(s.idText, s);
    this.#bytes += s.bytes;
    this.counts.opened++;
    return { reply, signature };
  }

  #makeRoom(now: number): void {
    if (this.#sessions.size < this.maxSessions) return;
    for (const [k, s] of this.#sessions) if (now >= s.exp) this.#drop(k);
    if (this.#sessions.size >= this.maxSessions) {
      this.counts.refused++;
      throw new SessionLimitError(`the service holds its maximum of ${this.maxSessions} sessions`);
    }
  }

  #drop(idText: string): void {
    const s = this.#sessions.get(idText);
    if (!s) return;
    this.#sessions.delete(idText);
    this.#bytes -= s.bytes;
    const mine = this.#byHolder.get(s.holder);
    mine?.delete(idText);
    if (mine?.size === 0) this.#byHolder.delete(s.holder);
  }

  /** Ends every session (e.g. on shutdown). */
  clear(): void {
    this.#sessions.clear();
    this.#bytes = 0;
    this.#byHolder.clear();
    this.#nonces.clear();
  }

  /**
   * Checks one session call: session, tag, counter window, then the call
   * rules. Never throws (nor rejects); the decision's mode is 'session'. A
   * promise when the rules answer asynchronously (a compact-form filter hit
   * confirmed with the service, a shared replay or limit store).
   */
  check(c: SessionCall): Decision | Promise<Decision> {
    const base: Base = {
      tool: undefined,
      operation: undefined,
      resource: undefined,
      callId: undefined,
      argsDigest: undefined,
      subject: undefined,
      chainIds: undefined,
      mode: 'session',
    };
    let s: Session | undefined;
    try {
      if (!c || typeof c !== 'object') throw new MalformedError('a session call is an object');
      base.tool = c.tool;
      base.operation = c.operation;
      base.callId = c.callId;
      s = typeof c.session === 'string' ? this.#sessions.get(c.session) : undefined;
      if (!s) {
        this.counts.unknown++;
        throw new SessionUnknownError('no such session on this service (expired, ended or never opened): open a new one');
      }
      if (s.ended) throw new RevokedError('the token of this session is revoked');
      const now = this.#now();
      if (now >= s.exp) {
        this.#drop(s.idText);
        this.counts.expired++;
        s = undefined;
        throw new SessionUnknownError('the session has expired: open a new one');
      }
      const chain: Chain = this.verifier.verifyToken(s.token);
      base.subject = chain.subject;
      base.chainIds = chain.ids;
      if (typeof c.resource !== 'string' || normalizeResource(c.resource) !== c.resource)
        throw new MalformedError('a session call names its resource in normal form');
      base.resource = c.resource;
      if (typeof c.args !== 'object' || c.args === null || Array.isArray(c.args)) throw new MalformedError('call arguments must be an object');
      const digest = argsDigestBuffer(c.args);
      const hex = digest.toString('hex');
      base.argsDigest = hex;
      // Buffer's decoder (the schema checked the alphabet and length): a tenth of the generic one's cost on this path.
      const tag = typeof c.tag === 'string' && c.tag.length === 43 ? Buffer.from(c.tag, 'base64url') : undefined;
      const expect = sessionCallTag(s.callKey, s.id, {
        counter: c.counter,
        tool: c.tool,
        operation: c.operation,
        resource: c.resource,
        argsDigest: digest,
        callId: c.callId,
        exp: c.exp,
      });
      if (!tag || !tagsEqual(expect, tag)) throw new SessionTagError('the call tag does not verify under the session key');
      this.#tagged.set(c, tag);
      this.#counter(s, c.counter);
      if (c.exp - now > LIMITS.maxInvocationWindow + this.verifier.clockSkew) {
        throw new MalformedError(`a session call lives at most ${LIMITS.maxInvocationWindow} s`);
      }
      const facts: CallFacts = {
        tool: c.tool,
        operation: c.operation,
        resource: c.resource,
        args: c.args,
        argsHex: hex,
        callId: c.callId,
        iat: now,
        exp: c.exp,
      };
      // The same context as a signed call (§13.5 step 7): limits are charged, approval gates checked.
      const auth = checkCallNow(chain, facts, {
        now,
        skew: this.verifier.clockSkew,
        replay: COUNTER_CHECKED,
        revocation: this.verifier.revocation,
        limits: this.verifier.limits,
        backend: this.verifier.backend,
      });
      // An asynchronous answer (e.g. a filter hit being confirmed) decides only once it settles.
      if (auth instanceof Promise) {
        const live = s;
        return auth.then(
          (a) => allow(base, a),
          (e: unknown) => this.#denied(base, live, e),
        );
      }
      return allow(base, auth);
    } catch (e) {
      return this.#denied(base, s, e);
    }
  }

  #denied(base: Base, s: Session | undefined, e: unknown): Denied {
    const denied = deny(base, e);
    // A revoked token's session ends at once: it takes no other call, and is dropped once this denial is answered.
    if (s && denied.code === 'ERR_REVOKED' && !s.ended) {
      s.ended = true;
      this.counts.revoked++;
    }
    return denied;
  }

  /** Counter window (§13.5): fresh once, within `window` behind the highest, at most `maxAhead` past it. */
  #counter(s: Session, n: number): void {
    if (n > s.high) {
      if (n - s.high > this.maxAhead) throw new SessionCounterError(`counter ${n} is more than ${this.maxAhead} ahead of the highest seen`);
      this.#shift(s, n - s.high);
      s.high = n;
      s.seen[0]! |= 1;
      return;
    }
    const back = s.high - n;
    if (back >= this.window) throw new ReplayError(`counter ${n} is behind the reorder window: it may have been used`);
    const w = back >>> 5,
      bit = 1 << (back & 31);
    if (s.seen[w]! & bit) throw new ReplayError(`counter ${n} was already used in this session`);
    s.seen[w]! |= bit;
  }

  #shift(s: Session, by: number): void {
    const seen = s.seen;
    if (by >= this.window) {
      seen.fill(0);
      return;
    }
    const words = by >>> 5,
      bits = by & 31;
    for (let i = seen.length - 1; i >= 0; i--) {
      const src = i - words;
      let v = src >= 0 ? seen[src]! << bits : 0;
      if (bits > 0 && src - 1 >= 0) v |= seen[src - 1]! >>> (32 - bits);
      seen[i] = v >>> 0;
    }
  }

  /**
   * The answer to a call (§13.6): the decision's JSON text, tagged under the
   * session's answer key when the session is known.
   */
  answer(c: SessionCall, decisionText: string): SessionAnswer {
    const counter = typeof c?.counter === 'number' ? c.counter : 0;
    const s = typeof c?.session === 'string' ? this.#sessions.get(c.session) : undefined;
    const callTag = this.#tagged.get(c);
    if (!s || !callTag) return { counter, decision: decisionText };
    const tag = sessionAnswerTag(s.answerKey, s.id, counter, callTag, decisionText);
    if (s.ended) this.#drop(s.idText);
    return { counter, decision: decisionText, tag: tag.toString('base64url') };
  }
}
