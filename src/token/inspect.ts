/**
 * A readable view of a token's chain, for humans and tools. Shows ids,
 * subjects, grants, constraints, expiries and depth; never key material
 * beyond public keys. Signatures are NOT checked: use a Verifier for that.
 */
import { formatPublicKey } from '../crypto/keys.ts';
import { decodeChain } from './chain.ts';
import type { Constraints } from './constraints.ts';
import type { BudgetLimit, RateLimit } from './grant-limits.ts';
import { Token } from './token.ts';

export interface InspectedBlock {
  kind: 'root' | 'delegation';
  id: string;
  subject: string;
  holder: string;
  grants: { resource: string; permissions: string[]; constraints?: Constraints; rate?: RateLimit; budget?: BudgetLimit }[];
  inheritsGrants: boolean;
  issuedAt?: string;
  notBefore?: string;
  expiresAt: string;
  maxDepth: number;
  bytes: number;
}

export interface Inspection {
  version: 1;
  kid: string;
  bytes: number;
  /** Always false: inspect() does not verify. */
  verified: false;
  expiresAt: string;
  blocks: InspectedBlock[];
}

const iso = (s: number) => new Date(s * 1000).toISOString();

export function inspect(input: Token | string | Uint8Array): Inspection {
  const token = Token.parse(input);
  const chain = decodeChain(token);
  return {
    version: 1,
    kid: chain.kid,
    bytes: token.bytes.length,
    verified: false,
    expiresAt: iso(chain.exp),
    blocks: chain.blocks.map((b, i) => ({
      kind: b.kind,
      id: b.id,
      subject: b.subject,
      holder: formatPublicKey(b.holder),
      grants: b.grants.map((g) => ({
        resource: g.resource,
        permissions: [...g.permissions],
        ...(g.constraints ? { constraints: g.constraints } : {}),
        ...(g.rate ? { rate: g.rate } : {}),
        ...(g.budget ? { budget: g.budget } : {}),
      })),
      inheritsGrants: b.inheritsGrants,
      ...(b.iat !== undefined ? { issuedAt: iso(b.iat) } : {}),
      ...(b.nbf !== undefined ? { notBefore: iso(b.nbf) } : {}),
      expiresAt: iso(b.exp),
      maxDepth: b.maxDepth,
      bytes: token.blocks[i]!.bytes.length,
    })),
  };
}
