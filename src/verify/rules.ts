/**
 * The call rules (docs/spec.md §9, steps 10-13): one code path for both ways of
 * checking an invocation. The signed path first checks the proof's signature
 * and that it matches the call; the local path builds the same facts from the
 * call itself. Both then come here.
 */
import { ConfigError, ConstraintError, ExpiredError, NotYetValidError, ReplayError, ScopePermissionError, ScopeResourceError } from '../errors.ts';
import { checkConstraint, type Constraint } from '../token/constraints.ts';
import type { ResolvedGrant } from '../token/block.ts';
import { matchResource } from '../token/resource.ts';
import { buildTrie, parsePath, unconstrainedMember } from '../token/policy/path.ts';
import type { Chain } from '../token/chain.ts';
import type { ReplayStore } from './replay.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { checkApprovals, type ApprovalInput, type GatedBlock } from './approvals.ts';

/** Everything the rules need to know about one call. */
export interface CallFacts {
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource, already normalised. */
  readonly resource: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** argsDigest(args), lowercase hex. */
  readonly argsHex: string;
  readonly callId: string;
  /** Validity window of this invocation, unix seconds. */
  readonly iat: number;
  readonly exp: number;
  /** Signed approvals the call carries (docs/spec.md §15); looked at only when a matching grant has an approval gate. */
  readonly approvals?: readonly ApprovalInput[] | undefined;
}

export interface RuleContext {
  readonly now: number;
  readonly skew: number;
  readonly replay: ReplayStore;
  /** `check(chain, now)` throws ERR_REVOKED / ERR_REVOCATION_STALE; absent when no revocation source is configured. */
  readonly revocation?: { check(chain: Chain, now: number): void } | undefined;
  /** Checks approval signatures; needed only by chains with approval gates (ERR_CONFIG without it). */
  readonly backend?: Ed25519Backend | undefined;
}

export interface EffectiveGrant {
  /** The grant of the last block that authorized the call. */
  readonly resource: string;
  readonly permissions: readonly string[];
  /** Every constraint that was checked, from all blocks (argument name -> constraints). */
  readonly constraints: Readonly<Record<string, readonly Constraint[]>>;
}

export interface Authorization {
  readonly grant: EffectiveGrant;
  readonly expiresAt: number;
}

/**
 * The replay identity of a call (docs/spec.md §4.3): token tip, argument
 * digest, call id, tool, operation and resource, as one string. No hashing:
 * the tip and the argument digest are already digests, and the text fields
 * contain no 0x00 (control characters are refused), so 0x00 separates them
 * unambiguously.
 */
export function replayKey(tipHex: string, f: CallFacts): string {
  return tipHex + f.argsHex.slice(0, 32) + '\u0000' + f.callId + '\u0000' + f.tool + '\u0000' + f.operation + '\u0000' + f.resource;
}

/** The trie of a closed grant's constraint paths, built once per grant. */
const tries = new WeakMap<ResolvedGrant, ReturnType<typeof buildTrie>>();
function closedFailure(g: ResolvedGrant, args: Readonly<Record<string, unknown>>, paths: boolean): string | null {
  let trie = tries.get(g);
  if (!trie) {
    trie = buildTrie(Object.keys(g.constraints ?? {}).map((k) => (paths ? parsePath(k) : [{ member: k }])));
    tries.set(g, trie);
  }
  const extra = unconstrainedMember(trie, args);
  return extra === null ? null : `argument "${extra}" is not allowed: the grant's arguments are closed and no constraint reaches it`;
}

/** Does grant `g` allow the call (resource, operation, tool, constraints, closed)? */
function grantMatches(g: ResolvedGrant, f: CallFacts, paths: boolean): boolean {
  if (!matchResource(g.pattern, f.resource) || !g.permissions.includes(f.operation)) return false;
  if (g.tools !== undefined && !g.tools.includes(f.tool)) return false;
  if (g.constraints) for (const name in g.constraints) if (checkConstraint(name, g.constraints[name]!, f.args, paths)) return false;
  return !(g.closed && closedFailure(g, f.args, paths) !== null);
}

function matchBlock(grants: readonly ResolvedGrant[], f: CallFacts, blockIndex: number, paths: boolean): ResolvedGrant {
  let resourceMatched = false;
  let constraintFailure: string | null = null;
  for (const g of grants) {
    if (!matchResource(g.pattern, f.resource)) continue;
    resourceMatched = true;
    if (!g.permissions.includes(f.operation)) continue;
    if (g.tools !== undefined && !g.tools.includes(f.tool)) continue;
    let failure: string | null = null;
    if (g.constraints) {
      for (const name in g.constraints) {
        failure = checkConstraint(name, g.constraints[name]!, f.args, paths);
        if (failure) break;
      }
    }
    if (!failure && g.closed) failure = closedFailure(g, f.args, paths);
    if (!failure) return g;
    constraintFailure ??= failure;
  }
  const where = blockIndex === 0 ? 'the root block' : `delegation block ${blockIndex}`;
  if (!resourceMatched) throw new ScopeResourceError(`${f.resource} is outside every grant of ${where}`);
  if (constraintFailure) throw new ConstraintError(`${constraintFailure} (${where})`);
  throw new ScopePermissionError(`operation "${f.operation}" with tool "${f.tool}" on ${f.resource} is not permitted by ${where}`);
}

const NO_CONSTRAINTS: Readonly<Record<string, readonly Constraint[]>> = Object.freeze({});
/** The record of one grant's constraints, built once per grant (frozen: it is shared by decisions). */
const perGrant = new WeakMap<ResolvedGrant, Readonly<Record<string, readonly Constraint[]>>>();

/** Every constraint checked, by argument, from the grants that authorised the call (root first). */
function constraintsOf(gs: readonly ResolvedGrant[] | undefined): Readonly<Record<string, readonly Constraint[]>> {
  if (!gs) return NO_CONSTRAINTS;
  if (gs.length === 1) {
    const hit = perGrant.get(gs[0]!);
    if (hit) return hit;
  }
  const out: Record<string, Constraint[]> = {};
  for (const g of gs) {
    for (const name in g.constraints) {
      // defineProperty, not `??=`: an argument named "__proto__" must stay an own property.
      if (!Object.prototype.hasOwnProperty.call(out, name))
        Object.defineProperty(out, name, { value: [], enumerable: true, writable: true, configurable: true });
      out[name]!.push(g.constraints[name]!);
    }
  }
  for (const k in out) Object.freeze(out[k]);
  const frozen = Object.freeze(out);
  if (gs.length === 1) perGrant.set(gs[0]!, frozen);
  return frozen;
}

/**
 * Applies time, scope, constraint, revocation, approval and replay rules, in that
 * order, and throws the first failure as a CapframeError. Synchronous when
 * the replay store answers synchronously (the in-memory default: the
 * verifier's hot path); with an asynchronous store the replay result, and
 * its failure, come as a promise.
 */
export function checkCallNow(chain: Chain, f: CallFacts, ctx: RuleContext): Authorization | Promise<Authorization> {
  const { now, skew } = ctx;
  if (chain.nbf > now + skew) throw new NotYetValidError(`token is not valid before ${new Date(chain.nbf * 1000).toISOString()}`);
  if (now >= chain.exp + skew) throw new ExpiredError(`token expired at ${new Date(chain.exp * 1000).toISOString()}`);
  if (f.iat > now + skew) throw new NotYetValidError('invocation is issued in the future');
  if (now >= f.exp + skew) throw new ExpiredError(`invocation expired at ${new Date(f.exp * 1000).toISOString()}`);

  let tipGrant: ResolvedGrant | undefined;
  let constrained: ResolvedGrant[] | undefined;
  let gated: GatedBlock[] | undefined;
  const paths = chain.version === 2;
  for (let i = 0; i < chain.blocks.length; i++) {
    const b = chain.blocks[i]!;
    if (b.inheritsGrants && tipGrant) continue; // same grants as the block before: same answer
    const g = matchBlock(b.grants, f, i, paths);
    tipGrant = g;
    if (g.constraints) (constrained ??= []).push(g);
    // A gated first match: the block's other matching grants decide whether a gate applies (§15.4).
    if (g.approval) (gated ??= []).push({ index: i, grants: b.grants.filter((x) => x === g || grantMatches(x, f, paths)) });
  }
  const constraints = constraintsOf(constrained);

  const revoked: unknown = ctx.revocation?.check(chain, now);
  if (revoked !== undefined && typeof (revoked as { then?: unknown }).then === 'function') {
    // An asynchronous check cannot be waited for here: its answer would come after the call
    // was allowed. Fail closed (and keep its rejection from ending the process).
    (revoked as Promise<unknown>).then(undefined, () => {});
    throw new ConfigError('the revocation check must be synchronous (it returned a promise)');
  }

  // §9 step 12a: after revocation (nobody is asked to approve a call refused anyway), before replay.
  if (gated) {
    if (!ctx.backend) throw new ConfigError('this chain has approval gates: the rules need a signature backend');
    checkApprovals(chain, f, gated, f.approvals, now, skew, ctx.backend);
  }

  const key = replayKey(chain.tipHex, f);
  const recorded = ctx.replay.checkAndRecord(key, f.exp + skew, now);
  // A synchronous store answers directly: no promise (and no closure) on the hot path.
  if (typeof recorded === 'boolean') return finish(recorded, f, chain, tipGrant!, constraints);
  return Promise.resolve(recorded).then((fresh) => finish(fresh, f, chain, tipGrant!, constraints));
}

function finish(
  fresh: unknown,
  f: CallFacts,
  chain: Chain,
  tipGrant: ResolvedGrant,
  constraints: Readonly<Record<string, readonly Constraint[]>>,
): Authorization {
  // Only `true` is fresh: any other answer of a (custom) store is refused.
  if (fresh !== true) throw new ReplayError(`call ${JSON.stringify(f.callId)} to ${f.tool} was already used`);
  return {
    grant: { resource: tipGrant.resource, permissions: tipGrant.permissions, constraints },
    expiresAt: chain.exp,
  };
}
