import * as ed from '@noble/ed25519';
import type { Ed25519Backend } from './backend.ts';
import { equalBytes, sha512 } from './hash.ts';
import { strictShapeOk } from './strict.ts';

// noble needs a synchronous SHA-512 for its sync API; node:crypto provides it.
ed.hashes.sha512 = (m: Uint8Array) => sha512(m) as Uint8Array<ArrayBuffer>;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/**
 * Portable pure-JS backend (@noble/ed25519 point arithmetic). Verification is
 * the rule of spec §3.0: the byte-level checks (canonical, not small-order A
 * and R; S < L), then the cofactorless equation encode([S]B - [k]A) == R.
 * noble's own verify uses the cofactored equation ([8]...), which accepts
 * signatures whose R has a small-order component; so it is not used here.
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
      if (!strictShapeOk(pub, sig)) return false;
      try {
        const A = ed.Point.fromBytes(pub, false);
        const r = sig.subarray(0, 32);
        const s = leToBigint(sig.subarray(32, 64));
        const k = leToBigint(sha512(r, pub, message)) % L;
        const SB = ed.Point.BASE.multiply(s, false);
        const kA = A.multiply(k, false);
        return equalBytes(SB.subtract(kA).toBytes(), r);
      } catch {
        return false;
      }
    },
  };
}
