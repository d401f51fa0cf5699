/**
 * Token chains as data (docs/spec.md §3): the bytes each signature covers,
 * strict decoding of every block, parent links and inherited grants. Whether
 * a chain is trustworthy is decided in src/verify/chain.ts, which runs its
 * checks through the hooks of `walkChain`.
 */
import { concat, equalBytes, toHex } from '../crypto/hash.ts';
import { kidToString } from '../crypto/keys.ts';
import { MalformedError, SignatureInvalidError } from '../errors.ts';
import {
  checkDistinctGrants,
  decodeDelegationPayload,
  decodeRootPayload,
  validateGrants,
  type FormatVersion,
  type ResolvedGrant,
  type WireGrant,
} from './block.ts';
import { parsePattern } from './resource.ts';
import { blockDigest, LABELS, type Token } from './token.ts';

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

/** The exact bytes a block's signature covers. */
export function signedMessage(kind: 'root' | 'delegation' | 'invocation', payload: Uint8Array, kid?: Uint8Array): Uint8Array {
  if (kind === 'root') return concat(LABELS.root, kid!, payload);
  return concat(kind === 'delegation' ? LABELS.delegation : LABELS.invocation, payload);
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
 * What verification adds to decoding, block by block: `signature` runs on the
 * received bytes before the block is decoded, `attenuation` after it is
 * decoded and linked to its parent.
 */
export interface ChainChecks {
  signature(index: number, key: Uint8Array, message: Uint8Array, signature: Uint8Array): void;
  attenuation(index: number, block: ChainBlock, parent: ChainBlock, version: FormatVersion): void;
}

/** Decodes a chain without checking any signature or attenuation (for inspect and for holders). */
export function decodeChain(token: Token): Chain {
  return walkChain(token, null, null);
}

/**
 * Walks a chain root first: strict decode of every payload and the parent
 * link of every delegation block, with `checks` (when given) at the points
 * the verification order of docs/spec.md §9 puts them.
 */
export function walkChain(token: Token, checks: ChainChecks | null, authorityKey: Uint8Array | null): Chain {
  const raw = token.blocks;
  const rootRaw = raw[0]!;
  if (checks) checks.signature(0, authorityKey!, signedMessage('root', rootRaw.payload, token.kid), rootRaw.signature);
  const root = decodeRootPayload(rootRaw.payload);
  const blocks: ChainBlock[] = [
    {
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
    },
  ];
  for (let i = 1; i < raw.length; i++) {
    const parent = blocks[i - 1]!;
    const rb = raw[i]!;
    if (checks) checks.signature(i, parent.holder, signedMessage('delegation', rb.payload), rb.signature);
    const d = decodeDelegationPayload(rb.payload, root.version ?? 1);
    if (!equalBytes(d.parent, blockDigest(raw[i - 1]!.payload))) {
      throw new SignatureInvalidError(`delegation block ${i} is not linked to block ${i - 1}`);
    }
    const block: ChainBlock = {
      kind: 'delegation',
      id: toHex(blockDigest(rb.payload)),
      subject: d.subject,
      holder: d.holder,
      grants: d.grants ? resolveGrants(d.grants, parent.grants) : parent.grants,
      inheritsGrants: d.grants === undefined,
      ...(d.nbf !== undefined ? { nbf: d.nbf } : {}),
      exp: d.exp ?? parent.exp,
      maxDepth: d.maxDepth,
    };
    if (checks) checks.attenuation(i, block, parent, root.version ?? 1);
    // A block whose not-before is not before the chain's expiry can never be used (spec §3.3).
    const chainNbf = blocks.reduce((n, b) => Math.max(n, b.nbf ?? 0), block.nbf ?? 0);
    if (chainNbf > 0 && chainNbf >= block.exp) {
      throw new MalformedError(`delegation block ${i} is never valid: not before ${chainNbf}, but its effective expiry is ${block.exp}`);
    }
    blocks.push(block);
  }
  return build(token, blocks, checks !== null, root.version ?? 1);
}
