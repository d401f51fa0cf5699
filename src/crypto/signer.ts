/**
 * The one interface everything that signs as an authority goes through (issuing tokens,
 * revocation snapshots and deltas, approvals, the service's session key): the private key
 * may live in a file, a non-extractable WebCrypto key, an HSM or a cloud KMS, so signing
 * is asynchronous and the key's bytes are never needed.
 */
import type { Ed25519Backend } from './backend.ts';
import { defaultBackend } from './default.ts';
import type { PrivateKey } from './keys.ts';

export interface Signer {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Key id of `publicKey` (docs/spec.md §3.0): 8 bytes. */
  readonly kid: Uint8Array;
  /** Ed25519 signature (64 bytes) over exactly `message` (no pre-hash). */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A Signer over a key held in memory (a key file). */
export function keySigner(key: PrivateKey, backend: Ed25519Backend = defaultBackend()): Signer {
  return Object.freeze({
    publicKey: key.publicKey,
    kid: key.kid,
    sign: (message: Uint8Array) => Promise.resolve(backend.sign(key.seed, message)),
  });
}
