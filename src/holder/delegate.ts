/**
 * Delegation (docs/spec.md §3.3): the holder of a token derives a narrower
 * child for another key. Anything wider than the parent is refused here
 * (ERR_ATTENUATION / ERR_DEPTH); verifiers refuse it again at verify time.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { concat, equalBytes } from '../crypto/hash.ts';
import { AttenuationError, DepthError, InvalidArgumentError } from '../errors.ts';
import {
  canonicalPermissions,
  checkPermissions,
  checkSubject,
  checkTime,
  encodeDelegationPayload,
  expiryFrom,
  grantNeedsV2,
  validateGrants,
  type FormatVersion,
  type Grant,
  type ResolvedGrant,
  type WireGrant,
} from '../token/block.ts';
import { validateConstraints, type Constraints } from '../token/constraints.ts';
import { blockDigest, Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { toPublicKey, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';
import { decodeChain, signedMessage } from '../token/chain.ts';
import { grantCovered } from '../token/attenuation.ts';
import { checkBudget, checkRate } from '../token/grant-limits.ts';

export interface DelegateOptions {
  /** The holder key of the token's last block. */
  key: PrivateKey;
  /** Public key of the delegate. */
  to: PublicKeyInput;
  /** Identity of the delegate, e.g. `agent:summarizer`. */
  subject: string;
  /** Narrowed grants. Each must lie within one of the parent's grants. Default: the parent's. */
  grants?: readonly Grant[];
  /** Shortcut: keep the parent's grants but only these permissions (e.g. `['read']`). */
  permissions?: readonly string[];
  /** Shortcut: add these argument constraints to every grant. */
  constraints?: Constraints;
  /** Shortcut: put this rate limit on every grant (`{ calls: 100, per: '1h' }`, docs/spec.md §14). */
  rate?: Grant['rate'];
  /** Shortcut: put this budget on every grant (`{ arg: 'amount', total: '50', per: '1d' }`). */
  budget?: Grant['budget'];
  /** Shorter lifetime (`10m`) or an earlier `expiresAt`. Default: the parent's expiry. */
  ttl?: string | number;
  expiresAt?: number;
  notBefore?: number;
  /** Further delegations allowed below the child. Default: one less than the parent. */
  maxDepth?: number;
  clock?: Clock;
  backend?: Ed25519Backend;
}

/**
 * A parent grant as a child restates it: resource, permissions, tools and
 * closed. Constraints are restated only for a closed grant, whose constraint
 * paths are also the arguments it admits; otherwise the parent's block keeps
 * applying them (intersection).
 */
function keepShape(g: ResolvedGrant): ResolvedGrant {
  const { resource, pattern, permissions, constraints, tools, closed, approval } = g;
  return {
    resource,
    pattern,
    permissions,
    ...(closed && constraints ? { constraints } : {}),
    ...(tools ? { tools } : {}),
    ...(closed ? { closed } : {}),
    // An approval gate is never dropped by narrowing (docs/spec.md §15.1).
    ...(approval ? { approval } : {}),
  };
}

function narrowed(parent: readonly ResolvedGrant[], o: DelegateOptions, version: FormatVersion): ResolvedGrant[] | undefined {
  if (o.grants !== undefined && o.permissions !== undefined) throw new InvalidArgumentError('give grants or permissions, not both');
  let grants: ResolvedGrant[] | undefined;
  if (o.grants !== undefined) {
    grants = validateGrants(o.grants);
  } else if (o.permissions !== undefined) {
    const wanted = canonicalPermissions(checkPermissions(o.permissions, InvalidArgumentError));
    grants = parent
      .map((g) => ({ ...g, permissions: g.permissions.filter((p) => wanted.includes(p)) }))
      .filter((g) => g.permissions.length > 0)
      .map(keepShape);
    const missing = wanted.filter((p) => !parent.some((g) => g.permissions.includes(p)));
    if (missing.length > 0) throw new AttenuationError(`the parent token does not hold permission ${missing.map((m) => `"${m}"`).join(', ')}`);
  }
  if (o.constraints !== undefined) {
    const extra = validateConstraints(o.constraints);
    const base: ResolvedGrant[] = grants ?? parent.map(keepShape);
    grants = base.map((g) => ({ ...g, constraints: { ...(g.constraints ?? {}), ...extra } }));
  }
  if (o.rate !== undefined || o.budget !== undefined) {
    const extra = { ...(o.rate !== undefined ? { rate: checkRate(o.rate) } : {}), ...(o.budget !== undefined ? { budget: checkBudget(o.budget) } : {}) };
    grants = (grants ?? parent.map(keepShape)).map((g) => ({ ...g, ...extra }));
  }
  for (const g of grants ?? []) {
    if (version === 1 && grantNeedsV2(g)) {
      throw new InvalidArgumentError(
        `cannot delegate ${g.resource} with tools, closed arguments, limits, approval gates, argument paths or v1.1 constraint kinds: the token's root is format version 1 (issue a new root that uses them)`,
      );
    }
    if (!grantCovered(g, parent, version)) {
      throw new AttenuationError(`cannot delegate ${g.resource} [${g.permissions.join(',')}]: the parent holds no grant that covers it`);
    }
  }
  return grants;
}

/** Compact wire form: a grant whose pattern equals a parent grant's refers to it by index. */
function toWire(grants: readonly ResolvedGrant[], parent: readonly ResolvedGrant[]): WireGrant[] {
  return grants.map((g) => {
    const idx = parent.findIndex((p) => p.resource === g.resource);
    return {
      resource: idx >= 0 ? idx : g.resource,
      permissions: g.permissions,
      ...(g.constraints && Object.keys(g.constraints).length > 0 ? { constraints: g.constraints } : {}),
      ...(g.tools ? { tools: g.tools } : {}),
      ...(g.closed ? { closed: true } : {}),
      ...(g.rate ? { rate: g.rate } : {}),
      ...(g.budget ? { budget: g.budget } : {}),
      ...(g.approval ? { approval: g.approval } : {}),
    };
  });
}

/** Returns a new token: the parent chain plus one delegation block signed by `key`. */
export function delegate(tokenInput: Token | string | Uint8Array, o: DelegateOptions): Token {
  if (!o || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('delegate needs the holder private key');
  const token = Token.parse(tokenInput);
  const chain = decodeChain(token);
  const parent = chain.blocks[chain.blocks.length - 1]!;
  if (!equalBytes(o.key.publicKey, parent.holder)) {
    throw new InvalidArgumentError("this key is not the token's holder key; only the holder can delegate");
  }
  if (parent.maxDepth < 1) throw new DepthError('this token may not be delegated further (maximum depth reached)');
  const maxDepth = o.maxDepth ?? parent.maxDepth - 1;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) throw new InvalidArgumentError('maxDepth must be a non-negative integer');
  if (maxDepth > parent.maxDepth - 1) throw new DepthError(`maxDepth ${maxDepth} is not below the parent's ${parent.maxDepth}`);
  const now = (o.clock ?? systemClock)();
  const exp = expiryFrom(now, o.ttl, o.expiresAt);
  if (exp !== undefined && exp > chain.exp) {
    throw new AttenuationError(`requested expiry ${new Date(exp * 1000).toISOString()} is after the parent's ${new Date(chain.exp * 1000).toISOString()}`);
  }
  if (exp !== undefined && exp <= now) throw new InvalidArgumentError('expiry must be in the future');
  const nbf = o.notBefore === undefined ? undefined : checkTime(o.notBefore, 'notBefore', InvalidArgumentError);
  if (nbf !== undefined && nbf >= (exp ?? chain.exp)) throw new InvalidArgumentError('notBefore must be before the expiry');
  if (Math.max(nbf ?? 0, chain.nbf) >= (exp ?? chain.exp))
    throw new InvalidArgumentError("the delegation would never be valid: its expiry is not after the chain's not-before");
  const grants = narrowed(parent.grants, o, chain.version);
  const lastRaw = token.blocks[token.blocks.length - 1]!;
  const payload = encodeDelegationPayload({
    parent: blockDigest(lastRaw.payload),
    subject: checkSubject(o.subject, InvalidArgumentError),
    holder: toPublicKey(o.to),
    ...(grants ? { grants: toWire(grants, parent.grants) } : {}),
    ...(nbf !== undefined ? { nbf } : {}),
    ...(exp !== undefined ? { exp } : {}),
    maxDepth,
  });
  const sig = (o.backend ?? defaultBackend()).sign(o.key.seed, signedMessage('delegation', payload));
  return Token.fromParts(token.kid, [...token.blocks.map((b) => b.bytes), concat(payload, sig)]);
}
