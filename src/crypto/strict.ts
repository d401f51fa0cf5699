/**
 * The Ed25519 acceptance rule both backends apply (docs/spec.md §3.0), checked
 * on the raw bytes before any curve arithmetic:
 *
 * - the public key A and the signature's R are canonical encodings (y < p)
 *   and not points of small order (order 1, 2, 4 or 8);
 * - S, read little-endian from the signature's last 32 bytes, is below L.
 *
 * What remains is the cofactorless equation [S]B = R + [k]A, compared on
 * encodings (encode([S]B - [k]A) == R bytes), done by each backend.
 */
import { isWeakPublicKey } from './weak.ts';

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const L_LE = Uint8Array.from(Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'));

/** True when the 32 little-endian bytes at `off` of `b` encode an integer below L. */
export function scalarBelowL(b: Uint8Array, off = 0): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = b[off + i]!;
    const l = L_LE[i]!;
    if (x < l) return true;
    if (x > l) return false;
  }
  return false; // equal to L
}

/** The byte-level part of the acceptance rule: lengths, A and R canonical and not small-order, S < L. */
export function strictShapeOk(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (isWeakPublicKey(publicKey)) return false;
  if (isWeakPublicKey(signature.subarray(0, 32))) return false;
  return scalarBelowL(signature, 32);
}
