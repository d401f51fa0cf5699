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

/** The window a limit of `per` seconds is in at `now` (aligned to the unix epoch): its index. */
function windowIndex(now: number, per: number): number {
  return Math.floor(now / per);
}

/**
 * What one limited grant of one chain charges in its current window, kept
 * between calls: the counter key (one string, so a Map or Redis sees the
 * same string, its hash computed once), the limit as a bigint and the
 * ERR_LIMIT details. Rebuilt when the window, the chain or the skew changes.
 * Charges and details are frozen: they are shared by every call of the window.
 */
interface GrantWindow {
  readonly chain: Chain;
  readonly block: number;
  readonly skew: number;
  /** `{ROOT}:BLOCK:GRANT:` */
  readonly base: string;
  readonly gi: number;
  rateWindow: number;
  rate: LimitCharge | undefined;
  rateDetails: LimitDetails | undefined;
  budgetWindow: number | '-';
  budgetKey: string | undefined;
  budgetExpires: number;
  budgetDetails: LimitDetails | undefined;
}
const windows = new WeakMap<ResolvedGrant, GrantWindow>();

function grantWindow(chain: Chain, block: number, grant: ResolvedGrant, skew: number): GrantWindow {
  const w = windows.get(grant);
  if (w !== undefined && w.chain === chain && w.block === block && w.skew === skew) return w;
  const b = chain.blocks[block]!;
  const gi = b.grants.indexOf(grant);
  const fresh: GrantWindow = {
    chain,
    block,
    skew,
    base: '{' + chain.blocks[0]!.id + '}:' + b.id + ':' + gi + ':',
    gi,
    rateWindow: NaN,
    rate: undefined,
    rateDetails: undefined,
    budgetWindow: NaN,
    budgetKey: undefined,
    budgetExpires: 0,
    budgetDetails: undefined,
  };
  windows.set(grant, fresh);
  return fresh;
}

/** What to charge, and for each charge the details an ERR_LIMIT reports. */
export function chargesFor(
  chain: Chain,
  limited: readonly LimitedGrant[],
  args: Readonly<Record<string, unknown>>,
  now: number,
  skew: number,
): { charges: LimitCharge[]; details: LimitDetails[] } {
  const charges: LimitCharge[] = [];
  const details: LimitDetails[] = [];
  for (let k = 0; k < limited.length; k++) {
    const { block, grant } = limited[k]!;
    const w = grantWindow(chain, block, grant, skew);
    if (grant.rate) {
      const per = grant.rate.per;
      const index = windowIndex(now, per);
      if (index !== w.rateWindow || w.rate === undefined) {
        const end = (index + 1) * per;
        w.rateWindow = index;
        w.rate = Object.freeze({ key: w.base + 'r:' + index, limit: BigInt(grant.rate.calls), amount: 1n, expiresAt: end + skew });
        w.rateDetails = Object.freeze({
          block,
          blockId: chain.blocks[block]!.id,
          grant: w.gi,
          kind: 'rate',
          limit: String(grant.rate.calls),
          per,
          resetsAt: end,
        } as const);
      }
      charges.push(w.rate);
      details.push(w.rateDetails!);
    }
    if (grant.budget) {
      const bg = grant.budget;
      // matchBlock has already refused arguments that are not an amount.
      const amount = budgetAmount(grant, args) as bigint;
      const index = bg.per !== undefined ? windowIndex(now, bg.per) : '-';
      if (index !== w.budgetWindow || w.budgetKey === undefined) {
        const end = index === '-' ? undefined : (index + 1) * bg.per!;
        w.budgetWindow = index;
        w.budgetKey = w.base + 'b:' + index;
        w.budgetExpires = (end ?? chain.blocks[block]!.exp) + skew;
        w.budgetDetails = Object.freeze({
          block,
          blockId: chain.blocks[block]!.id,
          grant: w.gi,
          kind: 'budget',
          limit: bg.total,
          arg: bg.arg,
          ...(bg.per !== undefined ? { per: bg.per } : {}),
          ...(end !== undefined ? { resetsAt: end } : {}),
        } as const);
      }
      charges.push({ key: w.budgetKey, limit: totalOf(grant), amount, expiresAt: w.budgetExpires });
      details.push(w.budgetDetails!);
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
