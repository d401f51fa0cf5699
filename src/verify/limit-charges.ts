/**
 * What one call is charged (docs/spec.md §14.3): for each block that has
 * grants of its own, the grant that authorised the call, if it carries a
 * rate or a budget. A block without grants of its own (it holds its
 * parent's) is not charged again: its calls are counted once, under the
 * block that wrote the grant, together with every other child of it.
 */
import { LimitError, type LimitDetails } from '../errors.ts';
import type { ResolvedGrant } from '../token/block.ts';
import type { Chain } from '../token/chain.ts';
import { BUDGET_SCALE, scaled, totalUnits } from '../token/grant-limits.ts';
import { decimalOfValue } from '../token/policy/decimal.ts';
import { parsePath, resolvePath } from '../token/policy/path.ts';
import type { LimitCharge } from './limits.ts';

/** A limited grant that authorised the call, and where it is. */
export interface LimitedGrant {
  readonly block: number;
  readonly grant: ResolvedGrant;
}

/**
 * The amount a budget charges for these arguments, in units of 10^-18: the
 * sum of every value at the grant's budget path (§6.1; `[]` sums the
 * elements), each a non-negative finite number or decimal string with at
 * most 18 fraction digits. A string: why the grant does not admit the call.
 */
export function budgetAmount(g: ResolvedGrant, args: Readonly<Record<string, unknown>>): bigint | string {
  const arg = g.budget!.arg;
  const values = resolvePath(parsePath(arg), args);
  if (values === undefined) return `argument "${arg}" is required by a budget but missing`;
  let sum = 0n;
  for (const v of values) {
    const d = decimalOfValue(v);
    if (d === undefined || d.sign < 0 || d.frac.length > BUDGET_SCALE)
      return `argument "${arg}" must be a non-negative decimal with at most ${BUDGET_SCALE} fraction digits (it is charged to a budget)`;
    sum += scaled(d);
  }
  return sum;
}

const totals = new WeakMap<ResolvedGrant, bigint>();
function totalOf(g: ResolvedGrant): bigint {
  let t = totals.get(g);
  if (t === undefined) {
    t = totalUnits(g.budget!.total);
    totals.set(g, t);
  }
  return t;
}

/** The window a limit of `per` seconds is in at `now` (aligned to the unix epoch), and its end. */
function windowOf(now: number, per: number): { index: number; end: number } {
  const index = Math.floor(now / per);
  return { index, end: (index + 1) * per };
}

/** What to charge, and for each charge the details an ERR_LIMIT reports. */
export function chargesFor(
  chain: Chain,
  limited: readonly LimitedGrant[],
  args: Readonly<Record<string, unknown>>,
  now: number,
  skew: number,
): { charges: LimitCharge[]; details: LimitDetails[] } {
  const root = chain.blocks[0]!.id;
  const charges: LimitCharge[] = [];
  const details: LimitDetails[] = [];
  for (const { block, grant } of limited) {
    const b = chain.blocks[block]!;
    const gi = b.grants.indexOf(grant);
    const base = '{' + root + '}:' + b.id + ':' + gi + ':';
    if (grant.rate) {
      const w = windowOf(now, grant.rate.per);
      charges.push({ key: base + 'r:' + w.index, limit: BigInt(grant.rate.calls), amount: 1n, expiresAt: w.end + skew });
      details.push({ block, blockId: b.id, grant: gi, kind: 'rate', limit: String(grant.rate.calls), per: grant.rate.per, resetsAt: w.end });
    }
    if (grant.budget) {
      const bg = grant.budget;
      // matchBlock has already refused arguments that are not an amount.
      const amount = budgetAmount(grant, args) as bigint;
      const w = bg.per !== undefined ? windowOf(now, bg.per) : undefined;
      charges.push({ key: base + 'b:' + (w ? w.index : '-'), limit: totalOf(grant), amount, expiresAt: (w ? w.end : b.exp) + skew });
      details.push({
        block,
        blockId: b.id,
        grant: gi,
        kind: 'budget',
        limit: bg.total,
        arg: bg.arg,
        ...(bg.per !== undefined ? { per: bg.per } : {}),
        ...(w ? { resetsAt: w.end } : {}),
      });
    }
  }
  return { charges, details };
}

/** The ERR_LIMIT of a refused charge. */
export function limitError(d: LimitDetails): LimitError {
  const where = d.block === 0 ? 'the root block' : `delegation block ${d.block}`;
  const what =
    d.kind === 'rate'
      ? `rate limit of ${d.limit} calls per ${d.per} s`
      : `budget of ${d.limit} for argument "${d.arg}"${d.per !== undefined ? ` per ${d.per} s` : ''}`;
  const when = d.resetsAt !== undefined ? `; resets at ${new Date(d.resetsAt * 1000).toISOString()}` : '; it does not reset';
  return new LimitError(`${what} of ${where} (grant ${d.grant}) is used up${when}`, { limit: d });
}
