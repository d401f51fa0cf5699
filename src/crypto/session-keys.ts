/**
 * The symmetric primitives of sessions (docs/spec.md §13), all from
 * node:crypto: X25519 key agreement, HKDF-SHA-256 and HMAC-SHA-256.
 */
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { InternalError, InvalidArgumentError, MalformedError } from '../errors.ts';
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';

/** An ephemeral X25519 key pair; the private half never leaves the KeyObject except for test vectors. */
export interface X25519Pair {
  readonly privateKey: KeyObject;
  /** Raw 32-byte public key (RFC 7748 u-coordinate). */
  readonly publicKey: Uint8Array;
}

/** SubjectPublicKeyInfo DER of an X25519 key up to the key itself (RFC 8410: algorithm 1.3.101.110, no parameters). */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A fresh X25519 pair, or the pair of a fixed 32-byte private key (test vectors only). */
export function x25519Pair(privateRaw?: Uint8Array): X25519Pair {
  if (privateRaw === undefined) {
    // The public half comes out of the key generation as SPKI DER (a fixed 12-byte header, then the key). Exporting it
    // afterwards from the new KeyObject (as JWK) deadlocks Node 20 now and then: a garbage collection during the export
    // runs the finished generation job's destructor, which takes the lock the export holds (test/sessions/keygen.test.ts).
    // Node returns the private half as a KeyObject when only the public encoding is given; @types/node has no overload for it.
    const { privateKey, publicKey } = generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' } } as never) as unknown as {
      privateKey: KeyObject;
      publicKey: Buffer;
    };
    if (publicKey.length !== X25519_SPKI_PREFIX.length + 32 || !publicKey.subarray(0, X25519_SPKI_PREFIX.length).equals(X25519_SPKI_PREFIX)) {
      throw new InternalError('node:crypto returned an X25519 public key in an unexpected encoding');
    }
    return { privateKey, publicKey: new Uint8Array(publicKey.subarray(X25519_SPKI_PREFIX.length)) };
  }
  if (!(privateRaw instanceof Uint8Array) || privateRaw.length !== 32) throw new InvalidArgumentError('an X25519 private key is 32 bytes');
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: encodeBase64url(privateRaw), x: '' }, format: 'jwk' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, publicKey: decodeBase64url(jwk.x!) };
}

/**
 * X25519(own private key, peer's raw public key). An all-zero result (a
 * small-order peer key) is refused: it would make the session key public.
 */
export function x25519Shared(own: KeyObject, peerPublic: Uint8Array): Uint8Array {
  if (!(peerPublic instanceof Uint8Array) || peerPublic.length !== 32) throw new MalformedError('an X25519 public key is 32 bytes');
  let shared: Buffer;
  try {
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: encodeBase64url(peerPublic) }, format: 'jwk' });
    shared = diffieHellman({ privateKey: own, publicKey: peer });
  } catch (e) {
    throw new MalformedError('unusable X25519 public key', { cause: e });
  }
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new MalformedError('unusable X25519 public key (small order)');
  return new Uint8Array(shared);
}

/** HKDF-SHA-256 (RFC 5869), `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** HMAC-SHA-256(key, data), 32 bytes. */
export function hmacSha256(key: Uint8Array | KeyObject, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** HMAC-SHA-256(key, head || UTF-8 of text), 32 bytes: the text goes to the MAC without a copy into one buffer. */
export function hmacSha256Text(key: Uint8Array | KeyObject, head: Uint8Array, text: string): Buffer {
  return createHmac('sha256', key).update(head).update(text, 'utf8').digest();
}

/** Constant-time comparison of two tags (false when the lengths differ). */
export function tagsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
