/**
 * Chain verification (docs/spec.md §9, steps 3-5): signatures over the
 * received bytes, then strict decoding, then links and attenuation. The
 * result holds everything the per-call rules need and nothing time-bound, so
 * it can be cached.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { sha256Hex } from '../crypto/hash.ts';
import { kidToString } from '../crypto/keys.ts';
import { AttenuationError, DepthError, SignatureInvalidError, UnknownKeyError } from '../errors.ts';
import { grantCovered } from '../token/attenuation.ts';
import { walkChain, type Chain, type ChainChecks } from '../token/chain.ts';
import type { Token } from '../token/token.ts';
import type { Lru } from './lru.ts';

export interface ChainOptions {
  backend: Ed25519Backend;
  trustedKey: (kid: Uint8Array) => Uint8Array | undefined;
  /** Verified-signature cache keyed by a hash of (key, label, block bytes). */
  signatureCache?: Lru<string, true>;
}

/**
 * Ed25519 check through a verified-signature cache keyed by SHA-256(key ||
 * message || signature). Throws ERR_SIGNATURE_INVALID with `message`.
 */
export function checkSignatureCached(
  backend: Ed25519Backend,
  cache: Lru<string, true> | undefined,
  key: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  error: string,
): void {
  const cacheKey = cache ? sha256Hex(key, message, signature) : '';
  if (cache?.get(cacheKey)) return;
  if (!backend.verify(key, message, signature)) throw new SignatureInvalidError(error);
  cache?.set(cacheKey, true);
}

function what(i: number): string {
  return i === 0 ? 'root block' : `delegation block ${i}`;
}

function checksFor(opts: ChainOptions): ChainChecks {
  return {
    signature(i, key, message, signature) {
      const by = i === 0 ? '' : ` (signed by the holder of block ${i - 1})`;
      checkSignatureCached(opts.backend, opts.signatureCache, key, message, signature, `${what(i)}${by}: signature does not verify`);
    },
    attenuation(i, block, parent, version) {
      if (parent.maxDepth < 1) throw new DepthError(`${what(i)}: block ${i - 1} may not be delegated (maximum depth 0)`);
      if (block.maxDepth > parent.maxDepth - 1) {
        throw new DepthError(`${what(i)}: remaining depth ${block.maxDepth} is not below its parent's ${parent.maxDepth}`);
      }
      if (block.exp > parent.exp) throw new AttenuationError(`${what(i)} expires after its parent`);
      for (const g of block.grants) {
        if (!grantCovered(g, parent.grants, version)) {
          throw new AttenuationError(`${what(i)} grants ${g.resource} [${g.permissions.join(',')}], which its parent does not hold`);
        }
      }
    },
  };
}

/**
 * Verifies a token's chain. Order per block: signature over the received
 * bytes (key from the keyring for the root, from the parent block otherwise),
 * strict decode, parent link, depth, attenuation. Throws a CapframeError.
 */
export function verifyChain(token: Token, opts: ChainOptions): Chain {
  const authorityKey = opts.trustedKey(token.kid);
  if (!authorityKey) throw new UnknownKeyError(`authority key ${kidToString(token.kid)} is not trusted`);
  return walkChain(token, checksFor(opts), authorityKey);
}
