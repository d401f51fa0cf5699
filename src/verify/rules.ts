/**
 * The call rules (docs/spec.md §9, step 5): one code path for both ways of
 * checking an invocation. The signed path first checks the proof's signature
 * and that it matches the call; the local path builds the same facts from the
 * call itself. Both then come here.
 */
import { ConstraintError, ExpiredError, NotYetValidError, ReplayError, ScopePermissionError, ScopeResourceError } from '../errors.ts';
import { checkConstraint, type Constraint } from '../token/constraints.ts';
import type { ResolvedGrant } from '../token/block.ts';
import { matchResource } from '../token/resource.ts';
import { digest16, toHex } from '../crypto/hash.ts';
import { LABELS } from '../token/token.ts';
import type { Chain } from './chain.ts';
import type { ReplayStore } from './replay.ts';

/** Everything the rules need to know about one call. */
export interface CallFacts {
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource, already normalised. */
  readonly resource: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** argsDigest(args). */
  readonly argsDigest: Uint8Array;
  readonly callId: string;
  /** Validity window of this invocation, unix seconds. */
  readonly iat: number;
  readonly exp: number;
}

export interface RuleContext {
  readonly now: number;
  readonly skew: number;
  readonly replay: ReplayStore;
  /** Throws ERR_REVOKED / ERR_REVOCATION_STALE; absent when no revocation source is configured. */
  readonly revocation?: (chain: Chain) => void;
}

export interface EffectiveGrant {
  /** The grant of the last block that authorised the call. */
  readonly resource: string;
  readonly permissions: readonly string[];
  /** Every constraint that was checked, from all blocks (argument name -> constraints). */
  readonly constraints: Readonly<Record<string, readonly Constraint[]>>;
}

export interface Authorisation {
  readonly grant: EffectiveGrant;
  readonly expiresAt: number;
}

const enc = new TextEncoder();
const SEP = new Uint8Array([0]);

/** The replay identity of a call: token tip, tool, operation, resource, argument digest, call id. */
export function replayKey(tip: Uint8Array, f: CallFacts): string {
  return toHex(digest16(LABELS.replay, tip, enc.encode(f.tool), SEP, enc.encode(f.operation), SEP,
    enc.encode(f.resource), SEP, f.argsDigest, enc.encode(f.callId)));
}

function matchBlock(grants: readonly ResolvedGrant[], f: CallFacts, blockIndex: number): ResolvedGrant {
  let resourceMatched = false;
  let constraintFailure: string | null = null;
  for (const g of grants) {
    if (!matchResource(g.pattern, f.resource)) continue;
    resourceMatched = true;
    if (!g.permissions.includes(f.operation)) continue;
    let failure: string | null = null;
    if (g.constraints) {
      for (const name in g.constraints) {
        failure = checkConstraint(name, g.constraints[name]!, f.args);
        if (failure) break;
      }
    }
    if (!failure) return g;
    constraintFailure ??= failure;
  }
  const where = blockIndex === 0 ? 'the root block' : `delegation block ${blockIndex}`;
  if (!resourceMatched) throw new ScopeResourceError(`${f.resource} is outside every grant of ${where}`);
  if (constraintFailure) throw new ConstraintError(`${constraintFailure} (${where})`);
  throw new ScopePermissionError(`operation "${f.operation}" on ${f.resource} is not permitted by ${where}`);
}

/**
 * Applies time, scope, constraint, revocation and replay rules, in that
 * order. Throws the first failure as a CapframeError.
 */
export async function checkCall(chain: Chain, f: CallFacts, ctx: RuleContext): Promise<Authorisation> {
  const { now, skew } = ctx;
  if (chain.nbf > now + skew) throw new NotYetValidError(`token is not valid before ${new Date(chain.nbf * 1000).toISOString()}`);
  if (now >= chain.exp + skew) throw new ExpiredError(`token expired at ${new Date(chain.exp * 1000).toISOString()}`);
  if (f.iat > now + skew) throw new NotYetValidError('invocation is issued in the future');
  if (now >= f.exp + skew) throw new ExpiredError(`invocation expired at ${new Date(f.exp * 1000).toISOString()}`);

  const constraints: Record<string, Constraint[]> = {};
  let tipGrant: ResolvedGrant | undefined;
  for (let i = 0; i < chain.blocks.length; i++) {
    const b = chain.blocks[i]!;
    if (b.inheritsGrants && tipGrant) continue; // same grants as the block before: same answer
    const g = matchBlock(b.grants, f, i);
    tipGrant = g;
    if (g.constraints) for (const name in g.constraints) (constraints[name] ??= []).push(g.constraints[name]!);
  }

  ctx.revocation?.(chain);

  const key = replayKey(chain.tip, f);
  const fresh = await ctx.replay.checkAndRecord(key, f.exp + skew, now);
  if (!fresh) throw new ReplayError(`call ${JSON.stringify(f.callId)} to ${f.tool} was already used`);

  return {
    grant: { resource: tipGrant!.resource, permissions: tipGrant!.permissions, constraints },
    expiresAt: chain.exp,
  };
}
