/**
 * The one interface every Ed25519 implementation sits behind. Keys are raw
 * bytes: a 32-byte seed (private) and a 32-byte encoded point (public).
 * `verify` never throws on bad input: it returns false.
 */
export interface Ed25519Backend {
  readonly name: string;
  publicKeyFromSeed(seed: Uint8Array): Uint8Array;
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}
