import * as ed from '@noble/ed25519';
import type { Ed25519Backend } from './backend.ts';
import { sha512 } from './hash.ts';

// noble needs a synchronous SHA-512 for its sync API; node:crypto provides it.
ed.hashes.sha512 = (m: Uint8Array) => sha512(m) as Uint8Array<ArrayBuffer>;

/**
 * Portable pure-JS backend (@noble/ed25519) in strict RFC 8032 mode
 * (`zip215: false`: canonical encodings of A and R, small-order keys refused).
 * About 10x slower than node:crypto; use it where OpenSSL is unavailable.
 */
export function nobleBackend(): Ed25519Backend {
  return {
    name: 'noble',
    publicKeyFromSeed(seed) {
      return ed.getPublicKey(seed);
    },
    sign(seed, message) {
      return ed.sign(message, seed);
    },
    verify(pub, message, sig) {
      if (pub.length !== 32 || sig.length !== 64) return false;
      try {
        return ed.verify(sig, message, pub, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}
