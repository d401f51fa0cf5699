/**
 * Authority service requests (docs/spec.md §16): an enrolment request and a
 * token request, each a deterministic CBOR map signed by the agent's holder
 * key. The request bytes are `payload ‖ signature` (64 bytes), sent as
 * base64url text with the prefix `cfq1.`.
 *
 *   key 1 aud      text   the authority service's identity (its `audience`)
 *   key 2 holder   bytes  32-byte holder public key (signs the request)
 *   key 3 profile  text   profile name
 *   key 4 nonce    bytes  16 random bytes
 *   key 5 iat      uint   unix seconds
 *   key 6 exp      uint   unix seconds, iat < exp <= iat + 300
 *   key 7 subject  text   enrolment only: the subject asked for
 *   key 8 ttl      uint   token request only, optional: a shorter lifetime, seconds
 *
 * The signed message is `label ‖ payload`, with the label
 * `capframe-v1-enrolment` or `capframe-v1-token-request`: a request of one
 * kind never passes as the other.
 */
import { randomBytes } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { concat, digest16, label, toHex } from '../crypto/hash.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { strictShapeOk } from '../crypto/strict.ts';
import { isWeakPublicKey } from '../crypto/weak.ts';
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';
import { InvalidArgumentError, MalformedError, SignatureInvalidError } from '../errors.ts';
import { checkSubject, checkText, checkTime } from '../token/block.ts';
import { decodeStrict, encode, type CborValue } from '../token/cbor.ts';
import { systemClock, type Clock } from '../clock.ts';

export const REQUEST_PREFIX = 'cfq1.';
/** Longest lifetime of a request, seconds. */
export const MAX_REQUEST_LIFETIME = 300;
/** Largest request, bytes (before base64url). */
export const MAX_REQUEST_BYTES = 2048;
const NAME_BYTES = 128;

export type RequestKind = 'enrolment' | 'token';

export const REQUEST_LABELS: Readonly<Record<RequestKind, Uint8Array>> = Object.freeze({
  enrolment: label('capframe-v1-enrolment'),
  token: label('capframe-v1-token-request'),
});
const REPLAY_LABEL = label('capframe-v1-request-replay');

const K = { aud: 1, holder: 2, profile: 3, nonce: 4, iat: 5, exp: 6, subject: 7, ttl: 8 } as const;

export interface AuthorityRequest {
  readonly kind: RequestKind;
  readonly audience: string;
  readonly holder: Uint8Array;
  readonly profile: string;
  readonly nonce: Uint8Array;
  readonly iat: number;
  readonly exp: number;
  /** Enrolment requests only. */
  readonly subject?: string;
  /** Token requests only, optional. */
  readonly ttl?: number;
}

export interface SignedAuthorityRequest extends AuthorityRequest {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  /** The exact bytes sent: payload ‖ signature. */
  readonly bytes: Uint8Array;
  /** `cfq1.` text of `bytes`. */
  readonly text: string;
}

export interface CreateRequestOptions {
  kind: RequestKind;
  /** The holder private key: signs the request and is the key enrolled / asking. */
  key: PrivateKey;
  audience: string;
  profile: string;
  subject?: string;
  ttl?: number;
  /** Request lifetime, seconds. Default 60. */
  lifetime?: number;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** @internal test vectors only: fixes the nonce (otherwise random). */
  nonce?: Uint8Array;
}

function checkFields(r: AuthorityRequest, E: typeof MalformedError | typeof InvalidArgumentError): void {
  checkText(r.audience, 'audience', E, NAME_BYTES);
  checkText(r.profile, 'profile', E, NAME_BYTES);
  if (!(r.holder instanceof Uint8Array) || r.holder.length !== 32) throw new E('holder must be a 32-byte public key');
  if (isWeakPublicKey(r.holder)) throw new E('holder key is a weak (small-order or non-canonical) key');
  if (!(r.nonce instanceof Uint8Array) || r.nonce.length !== 16) throw new E('nonce must be 16 bytes');
  checkTime(r.iat, 'iat', E);
  checkTime(r.exp, 'exp', E);
  if (r.exp <= r.iat || r.exp - r.iat > MAX_REQUEST_LIFETIME) throw new E(`exp must be after iat, by at most ${MAX_REQUEST_LIFETIME} seconds`);
  if (r.kind === 'enrolment') {
    if (r.subject === undefined) throw new E('an enrolment request names the subject');
    checkSubject(r.subject, E);
    if (r.ttl !== undefined) throw new E('an enrolment request has no ttl');
  } else {
    if (r.subject !== undefined) throw new E('a token request has no subject');
    if (r.ttl !== undefined && (!Number.isSafeInteger(r.ttl) || r.ttl < 1 || r.ttl > 0xffffffff)) throw new E('ttl must be a positive whole number of seconds');
  }
}

export function encodeRequestPayload(r: AuthorityRequest): Uint8Array {
  checkFields(r, InvalidArgumentError);
  const m = new Map<number, CborValue>([
    [K.aud, r.audience],
    [K.holder, r.holder],
    [K.profile, r.profile],
    [K.nonce, r.nonce],
    [K.iat, r.iat],
    [K.exp, r.exp],
  ]);
  if (r.subject !== undefined) m.set(K.subject, r.subject);
  if (r.ttl !== undefined) m.set(K.ttl, r.ttl);
  return encode(m);
}

/** The message the holder key signs. */
export function requestMessage(kind: RequestKind, payload: Uint8Array): Uint8Array {
  return concat(REQUEST_LABELS[kind], payload);
}

/** Creates and signs a request with the holder key. Throws ERR_INVALID_ARGUMENT for unusable options. */
export function createRequest(o: CreateRequestOptions): SignedAuthorityRequest {
  if (!o || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('a request is signed with the holder private key');
  if (o.kind !== 'enrolment' && o.kind !== 'token') throw new InvalidArgumentError('kind is enrolment or token');
  const backend = o.backend ?? defaultBackend();
  const iat = (o.clock ?? systemClock)();
  const lifetime = o.lifetime ?? 60;
  if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > MAX_REQUEST_LIFETIME) {
    throw new InvalidArgumentError(`lifetime must be 1 to ${MAX_REQUEST_LIFETIME} seconds`);
  }
  const r: AuthorityRequest = {
    kind: o.kind,
    audience: o.audience,
    holder: o.key.publicKey,
    profile: o.profile,
    nonce: o.nonce ?? new Uint8Array(randomBytes(16)),
    iat,
    exp: iat + lifetime,
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
    ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
  };
  const payload = encodeRequestPayload(r);
  const signature = backend.sign(o.key.seed, requestMessage(o.kind, payload));
  const bytes = concat(payload, signature);
  return Object.freeze({ ...r, payload, signature, bytes, text: REQUEST_PREFIX + encodeBase64url(bytes) });
}

/**
 * Decodes request text or bytes of the given kind and checks its holder
 * signature. Throws ERR_MALFORMED for anything that is not a well-formed
 * request and ERR_SIGNATURE_INVALID for a bad signature. Freshness, the
 * audience and replay are the service's checks (checkFreshness, replayKey).
 */
export function openRequest(kind: RequestKind, input: string | Uint8Array, backend: Ed25519Backend = defaultBackend()): SignedAuthorityRequest {
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    if (input.length > Math.ceil((MAX_REQUEST_BYTES * 4) / 3) + REQUEST_PREFIX.length || !input.startsWith(REQUEST_PREFIX)) {
      throw new MalformedError(`a request is ${REQUEST_PREFIX} text of at most ${MAX_REQUEST_BYTES} bytes`);
    }
    const body = input.slice(REQUEST_PREFIX.length);
    if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new MalformedError('a request is base64url text without padding');
    bytes = decodeBase64url(body);
    if (encodeBase64url(bytes) !== body) throw new MalformedError('a request is canonical base64url text');
  } else if (input instanceof Uint8Array) bytes = input;
  else throw new MalformedError('a request is text or bytes');
  if (bytes.length <= 64 || bytes.length > MAX_REQUEST_BYTES) throw new MalformedError(`a request is 65 to ${MAX_REQUEST_BYTES} bytes`);
  const payload = bytes.subarray(0, bytes.length - 64);
  const signature = bytes.subarray(bytes.length - 64);
  const v = decodeStrict(payload);
  if (!(v instanceof Map)) throw new MalformedError('a request payload is a CBOR map');
  for (const k of v.keys()) {
    if (typeof k !== 'number' || k < 1 || k > 8) throw new MalformedError(`unknown request field ${String(k)}`);
  }
  const r = {
    kind,
    audience: v.get(K.aud),
    holder: v.get(K.holder),
    profile: v.get(K.profile),
    nonce: v.get(K.nonce),
    iat: v.get(K.iat),
    exp: v.get(K.exp),
    ...(v.has(K.subject) ? { subject: v.get(K.subject) } : {}),
    ...(v.has(K.ttl) ? { ttl: v.get(K.ttl) } : {}),
  } as AuthorityRequest;
  checkFields(r, MalformedError);
  if (!strictShapeOk(r.holder, signature) || !backend.verify(r.holder, requestMessage(kind, payload), signature)) {
    throw new SignatureInvalidError('the request signature does not verify with its holder key');
  }
  const p = Uint8Array.from(payload);
  const s = Uint8Array.from(signature);
  const all = concat(p, s);
  return Object.freeze({
    ...r,
    holder: Uint8Array.from(r.holder),
    nonce: Uint8Array.from(r.nonce),
    payload: p,
    signature: s,
    bytes: all,
    text: REQUEST_PREFIX + encodeBase64url(all),
  });
}

/**
 * Whether a request is fresh at `now` with `skew` seconds of tolerance:
 * iat <= now + skew and now <= exp + skew. Returns the reason when not.
 */
export function requestStaleness(r: AuthorityRequest, now: number, skew: number): string | undefined {
  if (r.iat > now + skew) return 'the request is issued in the future (check the agent clock)';
  if (now > r.exp + skew) return 'the request has expired';
  return undefined;
}

/** Replay identity of a request: hex digest16 over its kind label and payload; claimed until exp + skew. */
export function replayKey(r: SignedAuthorityRequest): string {
  return toHex(digest16(REPLAY_LABEL, REQUEST_LABELS[r.kind], r.payload));
}
