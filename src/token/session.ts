/**
 * Session wire format (docs/spec.md §13): the handshake's hello (signed by
 * the token's holder key) and reply (signed by the service key), the key
 * schedule, and the exact bytes each call tag and answer tag cover.
 */
import type { KeyObject } from 'node:crypto';
import { MalformedError } from '../errors.ts';
import { label, sha256 } from '../crypto/hash.ts';
import { hkdfSha256, hmacSha256, hmacSha256Text, x25519Shared } from '../crypto/session-keys.ts';
import { decodeStrict, encode, type CborValue } from './cbor.ts';
import { checkText, checkTime } from './block.ts';
import { LIMITS } from './limits.ts';

export const SESSION_VERSION = 1;
export const SESSION_LABELS = Object.freeze({
  hello: label('capframe-v1-session-hello'),
  reply: label('capframe-v1-session-reply'),
  transcript: label('capframe-v1-session-transcript'),
  keys: new TextEncoder().encode('capframe-v1-session-keys'),
  call: label('capframe-v1-session-call'),
  answer: label('capframe-v1-session-answer'),
});
/** Longest session a service may grant (its configured maximum may only be lower): 24 h. */
export const MAX_SESSION_SECONDS = 86_400;
/** Largest counter: counters are JSON numbers on the HTTP binding. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The holder's half of the handshake (§13.2). */
export interface SessionHello {
  /** Token tip (blockDigest of the last block payload), 16 bytes. */
  readonly tip: Uint8Array;
  /** The holder's ephemeral X25519 public key, 32 bytes. */
  readonly clientKey: Uint8Array;
  /** The service's Ed25519 public key, as pinned by the client, 32 bytes. */
  readonly serviceKey: Uint8Array;
  /** The service's fresh nonce, 16 bytes. */
  readonly nonce: Uint8Array;
  readonly iat: number;
  readonly exp: number;
}

/** The service's half (§13.3). */
export interface SessionReply {
  /** SHA-256 of the hello bytes, 32 bytes. */
  readonly helloDigest: Uint8Array;
  /** The service's ephemeral X25519 public key, 32 bytes. */
  readonly serviceKey: Uint8Array;
  /** Session id, 16 random bytes. */
  readonly session: Uint8Array;
  readonly exp: number;
}

const H = { version: 1, tip: 2, clientKey: 3, serviceKey: 4, nonce: 5, iat: 6, exp: 7 } as const;
const R = { version: 1, helloDigest: 2, serviceKey: 3, session: 4, exp: 5 } as const;

export function encodeSessionHello(h: SessionHello): Uint8Array {
  return encode(
    new Map<number, CborValue>([
      [H.version, SESSION_VERSION],
      [H.tip, h.tip],
      [H.clientKey, h.clientKey],
      [H.serviceKey, h.serviceKey],
      [H.nonce, h.nonce],
      [H.iat, h.iat],
      [H.exp, h.exp],
    ]),
  );
}

export function encodeSessionReply(r: SessionReply): Uint8Array {
  return encode(
    new Map<number, CborValue>([
      [R.version, SESSION_VERSION],
      [R.helloDigest, r.helloDigest],
      [R.serviceKey, r.serviceKey],
      [R.session, r.session],
      [R.exp, r.exp],
    ]),
  );
}

function mapOf(bytes: Uint8Array, what: string, keys: number): Map<number | string, CborValue> {
  if (!(bytes instanceof Uint8Array) || bytes.length > 512) throw new MalformedError(`a session ${what} is at most 512 bytes`);
  const m = decodeStrict(bytes);
  if (!(m instanceof Map)) throw new MalformedError(`a session ${what} is a CBOR map`);
  for (const k of m.keys())
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > keys) throw new MalformedError(`session ${what} has unknown field ${String(k)}`);
  if (m.size !== keys) throw new MalformedError(`session ${what} is missing fields`);
  if (m.get(1) !== SESSION_VERSION) throw new MalformedError(`session ${what} has an unknown version`);
  return m;
}

function bytesField(m: Map<number | string, CborValue>, k: number, n: number, what: string): Uint8Array {
  const v = m.get(k);
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`session ${what} must be ${n} bytes`);
  return v;
}

/** Decodes a hello (strict deterministic CBOR). Throws MalformedError. */
export function decodeSessionHello(bytes: Uint8Array): SessionHello {
  const m = mapOf(bytes, 'hello', 7);
  const h: SessionHello = {
    tip: bytesField(m, H.tip, 16, 'token tip'),
    clientKey: bytesField(m, H.clientKey, 32, 'client key'),
    serviceKey: bytesField(m, H.serviceKey, 32, 'service key'),
    nonce: bytesField(m, H.nonce, 16, 'nonce'),
    iat: checkTime(m.get(H.iat), 'iat', MalformedError),
    exp: checkTime(m.get(H.exp), 'exp', MalformedError),
  };
  if (h.exp <= h.iat) throw new MalformedError('session hello expires before it was issued');
  return h;
}

/** Decodes a reply (strict deterministic CBOR). Throws MalformedError. */
export function decodeSessionReply(bytes: Uint8Array): SessionReply {
  const m = mapOf(bytes, 'reply', 5);
  return {
    helloDigest: bytesField(m, R.helloDigest, 32, 'hello digest'),
    serviceKey: bytesField(m, R.serviceKey, 32, 'service key'),
    session: bytesField(m, R.session, 16, 'session id'),
    exp: checkTime(m.get(R.exp), 'exp', MalformedError),
  };
}

/** What the holder signs: label || hello bytes. */
export function helloSignedMessage(hello: Uint8Array): Uint8Array {
  return Buffer.concat([SESSION_LABELS.hello, hello]);
}

/** What the service signs: label || reply bytes. */
export function replySignedMessage(reply: Uint8Array): Uint8Array {
  return Buffer.concat([SESSION_LABELS.reply, reply]);
}

/** The two session keys: calls are tagged with `callKey`, answers with `answerKey`. */
export interface SessionKeys {
  readonly callKey: Uint8Array;
  readonly answerKey: Uint8Array;
}

/**
 * Key schedule (§13.4): secret = X25519(own ephemeral, peer ephemeral);
 * salt = SHA-256(label || hello || reply); 64 bytes of
 * HKDF-SHA-256(secret, salt, "capframe-v1-session-keys"), split in two.
 */
export function deriveSessionKeys(own: KeyObject, peerPublic: Uint8Array, hello: Uint8Array, reply: Uint8Array): SessionKeys {
  const secret = x25519Shared(own, peerPublic);
  const salt = sha256(SESSION_LABELS.transcript, hello, reply);
  const okm = hkdfSha256(secret, salt, SESSION_LABELS.keys, 64);
  secret.fill(0);
  return { callKey: okm.slice(0, 32), answerKey: okm.slice(32, 64) };
}

/** The fields a call tag covers: those a signed invocation binds (§4.1), the token's tip through the session. */
export interface SessionCallFields {
  readonly counter: number;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource in normal form. */
  readonly resource: string;
  /** argsDigest(args), 32 bytes. */
  readonly argsDigest: Uint8Array;
  readonly callId: string;
  readonly exp: number;
}

function checkCounter(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_COUNTER) throw new MalformedError('a session counter is an integer from 1 to 2^53-1');
  return n;
}

function putU64(out: Buffer, o: number, n: number): number {
  out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), o);
  out.writeUInt32BE(n >>> 0, o + 4);
  return o + 8;
}

/**
 * The bytes a call tag covers (§13.5):
 * label || session(16) || counter(u64) || exp(u64) || argsDigest(32) ||
 * lp(tool) || lp(operation) || lp(resource) || lp(callId), where lp(s) is
 * the UTF-8 length as u16 big-endian, then the UTF-8 bytes.
 */
export function sessionCallMessage(session: Uint8Array, f: SessionCallFields): Buffer {
  if (session.length !== 16) throw new MalformedError('a session id is 16 bytes');
  checkCounter(f.counter);
  checkTime(f.exp, 'exp', MalformedError);
  if (!(f.argsDigest instanceof Uint8Array) || f.argsDigest.length !== 32) throw new MalformedError('an argument digest is 32 bytes');
  checkText(f.tool, 'tool name', MalformedError);
  checkText(f.operation, 'operation', MalformedError);
  checkText(f.resource, 'resource', MalformedError, LIMITS.maxResourceBytes);
  checkText(f.callId, 'call id', MalformedError);
  const L = SESSION_LABELS.call;
  const t = Buffer.byteLength(f.tool),
    op = Buffer.byteLength(f.operation),
    r = Buffer.byteLength(f.resource),
    c = Buffer.byteLength(f.callId);
  const out = Buffer.allocUnsafe(L.length + 16 + 8 + 8 + 32 + 8 + t + op + r + c);
  out.set(L, 0);
  let o = L.length;
  out.set(session, o);
  o += 16;
  o = putU64(out, o, f.counter);
  o = putU64(out, o, f.exp);
  out.set(f.argsDigest, o);
  o += 32;
  o = putText(out, o, f.tool, t);
  o = putText(out, o, f.operation, op);
  o = putText(out, o, f.resource, r);
  putText(out, o, f.callId, c);
  return out;
}

/** lp(s): the UTF-8 length (u16 big-endian), then the bytes. */
function putText(out: Buffer, o: number, s: string, n: number): number {
  out.writeUInt16BE(n, o);
  return o + 2 + out.write(s, o + 2, n, 'utf8');
}

/** HMAC-SHA-256(callKey, sessionCallMessage(...)). */
export function sessionCallTag(callKey: Uint8Array | KeyObject, session: Uint8Array, f: SessionCallFields): Buffer {
  return hmacSha256(callKey, sessionCallMessage(session, f));
}

/**
 * The bytes an answer tag covers (§13.6):
 * label || session(16) || counter(u64) || callTag(32) || UTF-8 of the decision text.
 */
export function sessionAnswerMessage(session: Uint8Array, counter: number, callTag: Uint8Array, decisionText: string): Buffer {
  if (session.length !== 16 || callTag.length !== 32) throw new MalformedError('an answer names a 16-byte session and a 32-byte call tag');
  checkCounter(counter);
  const L = SESSION_LABELS.answer;
  const n = Buffer.byteLength(decisionText);
  const out = Buffer.allocUnsafe(L.length + 16 + 8 + 32 + n);
  out.set(L, 0);
  let o = L.length;
  out.set(session, o);
  o = putU64(out, o + 16, counter);
  out.set(callTag, o);
  out.write(decisionText, o + 32, n, 'utf8');
  return out;
}

/**
 * HMAC-SHA-256(answerKey, sessionAnswerMessage(...)): the fixed head, then
 * the decision text fed to the MAC as UTF-8 directly (the same bytes, without
 * measuring and copying the text into one buffer: this runs once per call on
 * both sides).
 */
export function sessionAnswerTag(answerKey: Uint8Array | KeyObject, session: Uint8Array, counter: number, callTag: Uint8Array, decisionText: string): Buffer {
  return hmacSha256Text(answerKey, sessionAnswerMessage(session, counter, callTag, ''), decisionText);
}
