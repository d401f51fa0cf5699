/**
 * The agent's side of the authority service (docs/authority.md, docs/spec.md
 * §16): enrol a holder key under a profile, and ask for a token with a signed,
 * fresh, single-use request. One undici keep-alive pool per client.
 */
import { Pool, type Dispatcher } from 'undici';
import type { PrivateKey } from '../crypto/keys.ts';
import { equalBytes } from '../crypto/hash.ts';
import { createRequest } from '../authority/request.ts';
import { CapframeError, InvalidArgumentError, MalformedError, UnavailableError, type ErrorCode } from '../errors.ts';
import { errorFromCode } from '../error-codes.ts';
import { decodeRootPayload } from '../token/block.ts';
import { Token } from '../token/token.ts';
import type { Clock } from '../clock.ts';

const MAX_RESPONSE = 64 * 1024;

export interface AuthorityClientOptions {
  /** Base URL of the authority service, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The service's identity (`server.authority.audience`): signed into every request. */
  audience: string;
  /** Timeout of one request, ms. Default 5000. */
  timeoutMs?: number;
  /** Use this undici dispatcher instead of a private Pool (not closed by close()). */
  dispatcher?: Dispatcher;
  /** Connections of the private pool. Default 4. */
  connections?: number;
  clock?: Clock;
}

export interface ObtainedToken {
  readonly token: Token;
  readonly subject: string;
  readonly tokenId: string;
  /** The token's own expiry (unix seconds), read from the token. */
  readonly expiresAt: number;
  readonly iat: number;
}

export class AuthorityClient {
  readonly audience: string;
  readonly timeout: number;
  readonly #origin: string;
  readonly #dispatcher: Dispatcher;
  readonly #own: boolean;
  readonly #clock: Clock | undefined;

  constructor(o: AuthorityClientOptions) {
    if (!o || typeof o.url !== 'string' || typeof o.audience !== 'string') throw new InvalidArgumentError('AuthorityClient needs a url and the audience');
    const u = new URL(o.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('the authority url must be http(s)');
    this.#origin = u.origin;
    this.audience = o.audience;
    this.timeout = o.timeoutMs ?? 5000;
    this.#own = !o.dispatcher;
    this.#dispatcher = o.dispatcher ?? new Pool(this.#origin, { connections: o.connections ?? 4, keepAliveTimeout: 4_000 });
    this.#clock = o.clock;
  }

  async #post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#dispatcher.request({
        origin: this.#origin,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        headersTimeout: this.timeout,
        bodyTimeout: this.timeout,
        signal: AbortSignal.timeout(this.timeout),
      });
    } catch (e) {
      throw new UnavailableError(`the authority service at ${this.#origin} is unreachable: ${(e as Error).message}`, { cause: e });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of res.body) {
        size += (c as Buffer).length;
        if (size > MAX_RESPONSE) {
          res.body.destroy();
          throw new Error('response too large');
        }
        chunks.push(c as Buffer);
      }
    } catch (e) {
      throw new UnavailableError(`the authority service at ${this.#origin} failed to answer: ${(e as Error).message}`, { cause: e });
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      json = undefined;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new UnavailableError(`the authority service answered ${res.statusCode} without a JSON object`);
    }
    const j = json as Record<string, unknown>;
    if (res.statusCode >= 300) {
      const code = typeof j.code === 'string' && /^ERR_[A-Z_]{1,40}$/.test(j.code) ? (j.code as ErrorCode) : 'ERR_UNAVAILABLE';
      const reason = typeof j.reason === 'string' ? j.reason.slice(0, 300) : `status ${res.statusCode}`;
      // 5xx: the service is there but cannot serve; a caller retries those like an outage.
      throw res.statusCode >= 500 ? new UnavailableError(`authority: ${reason}`) : errorFromCode(code, `authority: ${reason}`);
    }
    return { status: res.statusCode, json: j };
  }

  /**
   * Enrols `holderKey` as `subject` under `profile`, with the admin bearer
   * secret or a one-time enrolment code. Idempotent for the same triple.
   */
  async enrol(o: {
    holderKey: PrivateKey;
    profile: string;
    subject: string;
    adminSecret?: string;
    code?: string;
  }): Promise<{ subject: string; profile: string; changed: boolean }> {
    const request = createRequest({
      kind: 'enrolment',
      key: o.holderKey,
      audience: this.audience,
      profile: o.profile,
      subject: o.subject,
      ...(this.#clock ? { clock: this.#clock } : {}),
    });
    const r = await this.#post(
      '/v1/enrolments',
      { request: request.text, ...(o.code !== undefined ? { code: o.code } : {}) },
      o.adminSecret ? { authorization: `Bearer ${o.adminSecret}` } : {},
    );
    return { subject: String(r.json.subject), profile: String(r.json.profile), changed: r.json.changed === true };
  }

  /** Disenrols an agent (admin): its tokens are revoked, renewal refused. */
  async disenrol(subject: string, adminSecret: string, reason?: string): Promise<{ changed: boolean; revoked: boolean }> {
    const r = await this.#post('/v1/disenrol', { subject, ...(reason !== undefined ? { reason } : {}) }, { authorization: `Bearer ${adminSecret}` });
    return { changed: r.json.changed === true, revoked: r.json.revoked === true };
  }

  /** Asks for a token for `profile`, signed with the enrolled holder key. */
  async obtain(o: { holderKey: PrivateKey; profile: string; ttl?: number }): Promise<ObtainedToken> {
    const request = createRequest({
      kind: 'token',
      key: o.holderKey,
      audience: this.audience,
      profile: o.profile,
      ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
      ...(this.#clock ? { clock: this.#clock } : {}),
    });
    const r = await this.#post('/v1/tokens', { request: request.text });
    let token: Token;
    let root;
    try {
      token = Token.parse(String(r.json.token));
      root = decodeRootPayload(token.blocks[0]!.payload);
    } catch (e) {
      throw new MalformedError(`the authority answered with an unreadable token: ${e instanceof CapframeError ? e.message : 'decode failed'}`);
    }
    if (!equalBytes(root.holder, o.holderKey.publicKey)) throw new MalformedError('the authority issued a token for another holder key');
    return { token, subject: root.subject, tokenId: Buffer.from(root.tid).toString('hex'), expiresAt: root.exp, iat: root.iat };
  }

  async close(): Promise<void> {
    if (this.#own) await this.#dispatcher.close();
  }
}
