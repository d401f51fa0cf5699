/**
 * A Signer over a WebCrypto Ed25519 key (globalThis.crypto.subtle): the private key can be
 * created non-extractable, so no code in the process, this library's included, can read
 * its bytes; it lives as long as the process (or as long as the CryptoKey is kept, e.g. in
 * IndexedDB on other runtimes).
 */
import { webcrypto } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.ts';
import { keyId } from '../keys.ts';
import type { Signer } from '../signer.ts';
import { isWeakPublicKey } from '../weak.ts';

const ED25519 = { name: 'Ed25519' } as const;
// globalThis.crypto in Node (the same object as node:crypto's webcrypto), typed without the DOM lib.
const subtle = webcrypto.subtle;
type CryptoKey = webcrypto.CryptoKey;

/** A Signer over a WebCrypto Ed25519 private key and its public key (a CryptoKey or 32 raw bytes). */
export async function webCryptoSigner(privateKey: CryptoKey, publicKey: CryptoKey | Uint8Array): Promise<Signer> {
  if (!privateKey || privateKey.type !== 'private' || privateKey.algorithm?.name !== 'Ed25519' || !privateKey.usages.includes('sign')) {
    throw new InvalidArgumentError('webCryptoSigner needs an Ed25519 private CryptoKey with usage "sign"');
  }
  const pub = publicKey instanceof Uint8Array ? Uint8Array.from(publicKey) : new Uint8Array(await subtle.exportKey('raw', publicKey));
  if (pub.length !== 32 || isWeakPublicKey(pub)) throw new InvalidArgumentError('webCryptoSigner: not a usable Ed25519 public key');
  return Object.freeze({
    publicKey: pub,
    kid: keyId(pub),
    sign: async (message: Uint8Array) => new Uint8Array(await subtle.sign(ED25519, privateKey, message)),
  });
}

/** A new Ed25519 key that never leaves WebCrypto (non-extractable), as a Signer. */
export async function generateWebCryptoSigner(): Promise<Signer> {
  const pair = (await subtle.generateKey(ED25519, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return webCryptoSigner(pair.privateKey, pair.publicKey);
}
