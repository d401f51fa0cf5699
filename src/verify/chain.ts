/**
 * Chain verification (docs/spec.md §9, steps 3-5): signatures over the
 * received bytes, then strict decoding, then links and attenuation. The
 * result holds everything the per-call rules need and nothing time-bound, so
 * it can be cached.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { concat, sha256Hex, toHex, equalBytes } from '../crypto/hash.ts';
import { AttenuationError, DepthError, MalformedError, SignatureInvalidError, UnknownKeyError } from '../errors.ts';
import { kidToString } from '../crypto/keys.ts';
import {
  checkDistinctGrants, decodeDelegationPayload, decodeRootPayload, validateGrants,
  type FormatVersion, type ResolvedGrant, type WireGrant,
} from '../token/block.ts';
import { covers } from '../token/policy/covers.ts';
import { parsePattern, patternCovers } from '../token/resource.ts';
import { blockDigest, LABELS, type RawBlock, Token } from '../token/token.ts';
import type { Lru } from './lru.ts';

export interface ChainBlock {
  readonly kind: 'root' | 'delegation';
  /** Hex id: the random token id for the root, the payload digest for a delegation block. */
  readonly id: string;
  readonly subject: string;
  readonly holder: Uint8Array;
  /** Grants in force for this block (inherited grants resolved). */
  readonly grants: readonly ResolvedGrant[];
  /** True when the block carries no grants of its own and holds its parent's. */
  readonly inheritsGrants: boolean;
  readonly iat?: number;
  readonly nbf?: number;
  /** This block's own expiry, or its parent's when it sets none. */
  readonly exp: number;
  readonly maxDepth: number;
}

export interface Chain {
  readonly token: Token;
  /** Authority key id (base64url). */
  readonly kid: string;
  readonly blocks: readonly ChainBlock[];
  /** Every block id, root first: what revocation checks. */
  readonly ids: readonly string[];
  /** Subject and holder key of the last block: who may use the token. */
  readonly subject: string;
  readonly holder: Uint8Array;
  /** Effective validity: the latest not-before and the earliest expiry along the chain. */
  readonly nbf: number;
  readonly exp: number;
  /** blockDigest of the last payload. */
  readonly tip: Uint8Array;
  /** `tip` in hex (part of every replay key). */
  readonly tipHex: string;
  /** False when produced by decodeChain (signatures and attenuation not checked). */
  readonly verified: boolean;
  /** Format version of the chain (its root's field 9): 2 reads constraint keys as argument paths. */
  readonly version: FormatVersion;
}

export interface ChainOptions {
  backend: Ed25519Backend;
  trustedKey: (kid: Uint8Array) => Uint8Array | undefined;
  /** Verified-signature cache keyed by a hash of (key, label, block bytes). */
  signatureCache?: Lru<string, true>;
}

/** The exact bytes a block's signature covers. */
export function signedMessage(kind: 'root' | 'delegation' | 'invocation', payload: Uint8Array, kid?: Uint8Array): Uint8Array {
  if (kind === 'root') return concat(LABELS.root, kid!, payload);
  return concat(kind === 'delegation' ? LABELS.delegation : LABELS.invocation, payload);
}

/**
 * Ed25519 check through a verified-signature cache keyed by SHA-256(key ||
 * message || signature). Throws ERR_SIGNATURE_INVALID with `message`.
 */
export function checkSignatureCached(backend: Ed25519Backend, cache: Lru<string, true> | undefined, key: Uint8Array, message: Uint8Array, signature: Uint8Array, error: string): void {
  const cacheKey = cache ? sha256Hex(key, message, signature) : '';
  if (cache?.get(cacheKey)) return;
  if (!backend.verify(key, message, signature)) throw new SignatureInvalidError(error);
  cache?.set(cacheKey, true);
}

function checkSignature(opts: ChainOptions, key: Uint8Array, message: Uint8Array, block: RawBlock, what: string): void {
  checkSignatureCached(opts.backend, opts.signatureCache, key, message, block.signature, `${what}: signature does not verify`);
}

function resolveGrants(wire: readonly WireGrant[], parent: readonly ResolvedGrant[] | null): ResolvedGrant[] {
  const out = wire.map((g) => {
    if (typeof g.resource === 'number') {
      const p = parent?.[g.resource];
      if (!p) throw new MalformedError(`grant refers to parent grant ${g.resource}, which does not exist`);
      return Object.freeze({ ...g, resource: p.resource, pattern: p.pattern });
    }
    return Object.freeze({ ...g, resource: g.resource, pattern: parsePattern(g.resource) });
  });
  checkDistinctGrants(out, MalformedError);
  return out;
}

/**
 * Is `child` within some grant of `parent`? Pattern covered and permissions a
 * subset (both versions); in format version 2 also: the child's tools a
 * subset of the parent's (a parent without tools allows any), closed kept
 * closed, and each constraint the child puts on a path the parent also
 * constrains covered by the parent's (spec §3.3 rule 3, §6.3).
 */
export function grantCovered(child: ResolvedGrant, parent: readonly ResolvedGrant[], version: FormatVersion = 1): boolean {
  return parent.some((p) => {
    if (!patternCovers(p.pattern, child.pattern) || !child.permissions.every((x) => p.permissions.includes(x))) return false;
    if (version === 1) return true;
    if (p.tools !== undefined && (child.tools === undefined || !child.tools.every((t) => p.tools!.includes(t)))) return false;
    if (p.closed && !child.closed) return false;
    if (p.constraints && child.constraints) {
      for (const k of Object.keys(child.constraints)) {
        if (Object.prototype.hasOwnProperty.call(p.constraints, k) && !covers(p.constraints[k]!, child.constraints[k]!)) return false;
      }
    }
    return true;
  });
}

function build(token: Token, blocks: ChainBlock[], verified: boolean, version: FormatVersion): Chain {
  const last = blocks[blocks.length - 1]!;
  const tip = token.tip();
  return Object.freeze({
    token,
    kid: kidToString(token.kid),
    blocks: Object.freeze(blocks),
    ids: Object.freeze(blocks.map((b) => b.id)),
    subject: last.subject,
    holder: last.holder,
    nbf: blocks.reduce((n, b) => Math.max(n, b.nbf ?? 0), 0),
    exp: blocks.reduce((n, b) => Math.min(n, b.exp), Infinity),
    tip,
    tipHex: toHex(tip),
    verified,
    version,
  });
}

/**
 * Verifies a token's chain. Order per block: signature over the received
 * bytes (key from the keyring for the root, from the parent block otherwise),
 * strict decode, parent link, depth, attenuation. Throws a CapframeError.
 */
export function verifyChain(token: Token, opts: ChainOptions): Chain {
  const authorityKey = opts.trustedKey(token.kid);
  if (!authorityKey) throw new UnknownKeyError(`authority key ${kidToString(token.kid)} is not trusted`);
  return walk(token, opts, authorityKey);
}

/** Decodes a chain without checking any signature or attenuation (for inspect and for holders). */
export function decodeChain(token: Token): Chain {
  return walk(token, null, null);
}

function walk(token: Token, opts: ChainOptions | null, authorityKey: Uint8Array | null): Chain {
  const raw = token.blocks;
  const rootRaw = raw[0]!;
  if (opts) checkSignature(opts, authorityKey!, signedMessage('root', rootRaw.payload, token.kid), rootRaw, 'root block');
  const root = decodeRootPayload(rootRaw.payload);
  const blocks: ChainBlock[] = [{
    kind: 'root',
    id: toHex(root.tid),
    subject: root.subject,
    holder: root.holder,
    grants: validateGrants(root.grants, MalformedError, root.version ?? 1),
    inheritsGrants: false,
    iat: root.iat,
    ...(root.nbf !== undefined ? { nbf: root.nbf } : {}),
    exp: root.exp,
    maxDepth: root.maxDepth,
  }];
  for (let i = 1; i < raw.length; i++) {
    const what = `delegation block ${i}`;
    const parent = blocks[i - 1]!;
    const rb = raw[i]!;
    if (opts) checkSignature(opts, parent.holder, signedMessage('delegation', rb.payload), rb, `${what} (signed by the holder of block ${i - 1})`);
    const d = decodeDelegationPayload(rb.payload, root.version ?? 1);
    if (!equalBytes(d.parent, blockDigest(raw[i - 1]!.payload))) {
      throw new SignatureInvalidError(`${what} is not linked to block ${i - 1}`);
    }
    const grants = d.grants ? resolveGrants(d.grants, parent.grants) : parent.grants;
    const block: ChainBlock = {
      kind: 'delegation',
      id: toHex(blockDigest(rb.payload)),
      subject: d.subject,
      holder: d.holder,
      grants,
      inheritsGrants: d.grants === undefined,
      ...(d.nbf !== undefined ? { nbf: d.nbf } : {}),
      exp: d.exp ?? parent.exp,
      maxDepth: d.maxDepth,
    };
    if (opts) {
      if (parent.maxDepth < 1) throw new DepthError(`${what}: block ${i - 1} may not be delegated (maximum depth 0)`);
      if (d.maxDepth > parent.maxDepth - 1) {
        throw new DepthError(`${what}: remaining depth ${d.maxDepth} is not below its parent's ${parent.maxDepth}`);
      }
      if (d.exp !== undefined && d.exp > parent.exp) throw new AttenuationError(`${what} expires after its parent`);
      for (const g of grants) {
        if (!grantCovered(g, parent.grants, root.version ?? 1)) {
          throw new AttenuationError(`${what} grants ${g.resource} [${g.permissions.join(',')}], which its parent does not hold`);
        }
      }
    }
    // A block whose not-before is not before the chain's expiry can never be used (spec §3.3).
    const chainNbf = blocks.reduce((n, b) => Math.max(n, b.nbf ?? 0), block.nbf ?? 0);
    if (chainNbf > 0 && chainNbf >= block.exp) {
      throw new MalformedError(`${what} is never valid: not before ${chainNbf}, but its effective expiry is ${block.exp}`);
    }
    blocks.push(block);
  }
  return build(token, blocks, opts !== null, root.version ?? 1);
}
