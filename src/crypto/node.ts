import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { Ed25519Backend } from './backend.ts';
import { toHex } from './hash.ts';
import { isWeakPublicKey } from './weak.ts';
import { strictShapeOk } from './strict.ts';

// DER prefixes that wrap raw Ed25519 keys (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Bounded map from raw key bytes to KeyObject: building one costs about as much as a signature check, reusing it nothing. */
class KeyCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    return this.map.get(k);
  }
  set(k: string, v: V): void {
    if (this.map.size >= this.max) {
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
    this.map.set(k, v);
  }
}

/** Default backend: OpenSSL through node:crypto, with KeyObjects cached. */
export function nodeBackend(options: { keyCacheSize?: number } = {}): Ed25519Backend {
  const max = options.keyCacheSize ?? 1024;
  const pubCache = new KeyCache<KeyObject | null>(max);
  const privCache = new KeyCache<KeyObject>(64);

  function publicKeyObject(pub: Uint8Array): KeyObject | null {
    const k = toHex(pub);
    let ko = pubCache.get(k);
    if (ko === undefined) {
      // Checked once per key (the answer is cached with the KeyObject): no cost on the hot path.
      ko = null;
      if (!isWeakPublicKey(pub)) {
        try {
          ko = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
        } catch {
          ko = null;
        }
      }
      pubCache.set(k, ko);
    }
    return ko;
  }
  function privateKeyObject(seed: Uint8Array): KeyObject {
    const k = toHex(seed);
    let ko = privCache.get(k);
    if (!ko) {
      ko = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
      privCache.set(k, ko);
    }
    return ko;
  }
  return {
    name: 'node',
    publicKeyFromSeed(seed) {
      const der = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
      return new Uint8Array(der.subarray(SPKI_PREFIX.length));
    },
    sign(seed, message) {
      return new Uint8Array(nodeSign(null, message, privateKeyObject(seed)));
    },
    verify(pub, message, sig) {
      // OpenSSL checks the cofactorless equation on encodings (so R must be canonical) and S < L,
      // but accepts small-order A and R: the byte-level rule (spec §3.0) is checked first.
      if (!strictShapeOk(pub, sig)) return false;
      const ko = publicKeyObject(pub);
      if (!ko) return false;
      try {
        return nodeVerify(null, message, ko, sig);
      } catch {
        return false;
      }
    },
  };
}
