/**
 * The holder's half of a session handshake (docs/spec.md §13.2): one
 * Ed25519 signature by the token's holder key over an ephemeral X25519 key,
 * the token tip, the service's key, the service's nonce and an expiry.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { x25519Pair, type X25519Pair } from '../crypto/session-keys.ts';
import { InvalidArgumentError } from '../errors.ts';
import { decodeDelegationPayload, decodeRootPayload } from '../token/block.ts';
import { encodeSessionHello, helloSignedMessage, MAX_SESSION_SECONDS, type SessionHello } from '../token/session.ts';
import type { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { checkKey } from './invoke.ts';

export interface SessionHelloOptions {
  /** The service's Ed25519 public key (pinned by the client). */
  readonly serviceKey: Uint8Array;
  /** The service's fresh nonce, 16 bytes. */
  readonly nonce: Uint8Array;
  /** Session lifetime asked for, seconds (capped at the token's expiry). */
  readonly ttl: number;
  readonly clock?: Clock;
  readonly backend?: Ed25519Backend;
  /** @internal Test vectors only: a fixed ephemeral X25519 private key. */
  readonly ephemeral?: Uint8Array;
}

export interface SignedSessionHello {
  readonly fields: SessionHello;
  readonly hello: Uint8Array;
  readonly signature: Uint8Array;
  /** The ephemeral pair; its private half derives the session keys (§13.4). */
  readonly ephemeral: X25519Pair;
}

/** When a token's authority ends: the earliest expiry of its blocks. */
export function tokenExpiry(token: Token): number {
  const root = decodeRootPayload(token.blocks[0]!.payload);
  let exp = root.exp;
  for (let i = 1; i < token.blocks.length; i++) {
    const d = decodeDelegationPayload(token.blocks[i]!.payload, root.version ?? 1);
    if (d.exp !== undefined && d.exp < exp) exp = d.exp;
  }
  return exp;
}

/** Builds and signs a hello for `token` with its holder key. Throws ERR_INVALID_ARGUMENT. */
export function createSessionHello(token: Token, key: PrivateKey, o: SessionHelloOptions): SignedSessionHello {
  const tip = checkKey(key, token, 'createSessionHello');
  if (!(o.serviceKey instanceof Uint8Array) || o.serviceKey.length !== 32) throw new InvalidArgumentError('the service key is 32 bytes');
  if (!(o.nonce instanceof Uint8Array) || o.nonce.length !== 16) throw new InvalidArgumentError('the service nonce is 16 bytes');
  if (!Number.isInteger(o.ttl) || o.ttl < 1 || o.ttl > MAX_SESSION_SECONDS) throw new InvalidArgumentError(`a session lives 1 to ${MAX_SESSION_SECONDS} s`);
  const now = Math.floor((o.clock ?? systemClock)());
  const exp = Math.min(now + o.ttl, tokenExpiry(token));
  if (exp <= now) throw new InvalidArgumentError('the token has expired: no session can be opened');
  const ephemeral = x25519Pair(o.ephemeral);
  const fields: SessionHello = {
    tip,
    clientKey: ephemeral.publicKey,
    serviceKey: Uint8Array.from(o.serviceKey),
    nonce: Uint8Array.from(o.nonce),
    iat: now,
    exp,
  };
  const hello = encodeSessionHello(fields);
  const signature = (o.backend ?? defaultBackend()).sign(key.seed, helloSignedMessage(hello));
  return { fields, hello, signature, ephemeral };
}
