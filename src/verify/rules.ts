/**
 * The call rules (docs/spec.md §9, steps 10-14): one code path for both ways of
 * checking an invocation. The signed path first checks the proof's signature
 * and that it matches the call; the local path builds the same facts from the
 * call itself. Both then come here.
 */
import {
  CapframeError,
  ConfigError,
  ConstraintError,
  ExpiredError,
  NotYetValidError,
  ReplayError,
  ScopePermissionError,
  ScopeResourceError,
  UnavailableError,
} from '../errors.ts';
import { checkConstraint, type Constraint } from '../token/constraints.ts';
import type { ResolvedGrant } from '../token/block.ts';
import { matchResource } from '../token/resource.ts';
import { buildTrie, parsePath, unconstrainedMember } from '../token/policy/path.ts';
import type { Chain } from '../token/chain.ts';
import type { ReplayStore } from './replay.ts';
import type { LimitStore } from './limits.ts';
import { budgetAmount, chargesFor, limitError, type LimitedGrant } from './limit-charges.ts';
import type { LimitDetails } from '../errors.ts';
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
  /**
   * `check(chain, now)` throws ERR_REVOKED / ERR_REVOCATION_STALE, or returns a promise that
   * rejects with them (or ERR_UNAVAILABLE); absent when no revocation source is configured.
   */
  readonly revocation?: { check(chain: Chain, now: number): void | Promise<void> } | undefined;
  /** Counters of rate limits and budgets (§14); needed only by tokens that carry limits. */
  readonly limits?: LimitStore | undefined;
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

/**
 * Does grant `g` allow the call (resource, operation, tool, constraints, closed, and a
 * budget's amount argument, §14)? Exactly matchBlock's test: a grant that would not
 * authorise the call must not waive another grant's approval gate (§15.4).
 */
function grantMatches(g: ResolvedGrant, f: CallFacts, paths: boolean): boolean {
  if (!matchResource(g.pattern, f.resource) || !g.permissions.includes(f.operation)) return false;
  if (g.tools !== undefined && !g.tools.includes(f.tool)) return false;
  if (g.constraints) for (const name in g.constraints) if (checkConstraint(name, g.constraints[name]!, f.args, paths)) return false;
  if (g.closed && closedFailure(g, f.args, paths) !== null) return false;
  return !(g.budget && typeof budgetAmount(g, f.args) === 'string');
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
    if (!failure && g.budget) {
      const amount = budgetAmount(g, f.args);
      if (typeof amount === 'string') failure = amount;
    }
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
 * Applies time, scope, constraint, revocation, approval, replay and limit
 * rules, in that order, and throws the first failure as a CapframeError.
 * Synchronous when the revocation check, the replay store and the limit
 * store answer synchronously (the in-memory default: the verifier's hot
 * path); when any answers with a promise, the result, and its failure, come
 * as a promise.
 */
export function checkCallNow(chain: Chain, f: CallFacts, ctx: RuleContext): Authorization | Promise<Authorization> {
  const { now, skew } = ctx;
  if (chain.nbf > now + skew) throw new NotYetValidError(`token is not valid before ${new Date(chain.nbf * 1000).toISOString()}`);
  if (now >= chain.exp + skew) throw new ExpiredError(`token expired at ${new Date(chain.exp * 1000).toISOString()}`);
  if (f.iat > now + skew) throw new NotYetValidError('invocation is issued in the future');
  if (now >= f.exp + skew) throw new ExpiredError(`invocation expired at ${new Date(f.exp * 1000).toISOString()}`);

  let tipGrant: ResolvedGrant | undefined;
  let constrained: ResolvedGrant[] | undefined;
  let limited: LimitedGrant[] | undefined;
  let gated: GatedBlock[] | undefined;
  const paths = chain.version === 2;
  for (let i = 0; i < chain.blocks.length; i++) {
    const b = chain.blocks[i]!;
    // Same grants as the block before: same answer, and (§14.3) not charged twice.
    if (b.inheritsGrants && tipGrant) continue;
    const g = matchBlock(b.grants, f, i, paths);
    tipGrant = g;
    if (g.constraints) (constrained ??= []).push(g);
    if (g.rate || g.budget) (limited ??= []).push({ block: i, grant: g });
    // A gated first match: the block's other matching grants decide whether a gate applies (§15.4).
    if (g.approval) (gated ??= []).push({ index: i, grants: b.grants.filter((x) => x === g || grantMatches(x, f, paths)) });
  }
  const constraints = constraintsOf(constrained);

  const revoked: unknown = ctx.revocation?.check(chain, now);
  if (revoked !== undefined && typeof (revoked as { then?: unknown }).then === 'function') {
    // An asynchronous answer (e.g. a compact-form filter hit confirmed with the service): the
    // replay record waits for it, so a revoked call never consumes its proof, and its
    // rejection denies the call.
    return Promise.resolve(revoked as PromiseLike<unknown>).then(() => recordReplay(chain, f, ctx, tipGrant!, constraints, limited, gated));
  }
  return recordReplay(chain, f, ctx, tipGrant!, constraints, limited, gated);
}

function recordReplay(
  chain: Chain,
  f: CallFacts,
  ctx: RuleContext,
  tipGrant: ResolvedGrant,
  constraints: Readonly<Record<string, readonly Constraint[]>>,
  limited: readonly LimitedGrant[] | undefined,
  gated: readonly GatedBlock[] | undefined,
): Authorization | Promise<Authorization> {
  // §9 step 12a: after revocation (nobody is asked to approve a call refused anyway), before replay.
  if (gated) {
    if (!ctx.backend) throw new ConfigError('this chain has approval gates: the rules need a signature backend');
    checkApprovals(chain, f, gated, f.approvals, ctx.now, ctx.skew, ctx.backend);
  }
  const key = replayKey(chain.tipHex, f);
  const recorded = ctx.replay.checkAndRecord(key, f.exp + ctx.skew, ctx.now);
  // A synchronous store answers directly: no promise (and no closure) on the hot path.
  if (typeof recorded === 'boolean') {
    const auth = finish(recorded, f, chain, tipGrant, constraints);
    return limited ? charge(chain, limited, f, ctx, auth) : auth;
  }
  return Promise.resolve(recorded).then((fresh) => {
    const auth = finish(fresh, f, chain, tipGrant, constraints);
    return limited ? charge(chain, limited, f, ctx, auth) : auth;
  });
}

/** A store that fails in a way of its own: the call is denied as unavailable, never allowed. */
function storeFailure(e: unknown): CapframeError {
  return e instanceof CapframeError ? e : new UnavailableError(`limit store: ${(e as Error)?.message ?? String(e)}; call denied`, { cause: e });
}

/** Step 14 (§14.5): charge every limited grant of the chain, all or nothing; the last step, never refunded. */
function charge(chain: Chain, limited: readonly LimitedGrant[], f: CallFacts, ctx: RuleContext, auth: Authorization): Authorization | Promise<Authorization> {
  if (!ctx.limits) throw new ConfigError('the token carries rate limits or budgets, but the verifier has no limit store');
  const { charges, details } = chargesFor(chain, limited, f.args, ctx.now, ctx.skew);
  let r: number | Promise<number>;
  try {
    r = ctx.limits.chargeLimits(charges, ctx.now);
  } catch (e) {
    throw storeFailure(e);
  }
  if (typeof r === 'number') return charged(r, details, auth);
  return Promise.resolve(r).then(
    (i) => charged(i, details, auth),
    (e: unknown) => {
      throw storeFailure(e);
    },
  );
}

function charged(i: unknown, details: readonly LimitDetails[], auth: Authorization): Authorization {
  if (i === -1) return auth;
  if (typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < details.length) throw limitError(details[i]!);
  throw new UnavailableError(`limit store gave an answer that is not a charge index (${String(i)}); call denied`);
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
  return { grant: effectiveGrant(tipGrant, constraints), expiresAt: chain.exp };
}

/** The effective grant of the last call each grant authorised: reused while its constraints record is the same object (frozen: decisions share it). */
const effective = new WeakMap<ResolvedGrant, EffectiveGrant>();
function effectiveGrant(g: ResolvedGrant, constraints: Readonly<Record<string, readonly Constraint[]>>): EffectiveGrant {
  const hit = effective.get(g);
  if (hit !== undefined && hit.constraints === constraints) return hit;
  const e: EffectiveGrant = Object.freeze({ resource: g.resource, permissions: g.permissions, constraints });
  effective.set(g, e);
  return e;
}
