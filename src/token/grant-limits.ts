/**
 * Rate limits and budgets of a grant (docs/spec.md §14, grant options 3 and
 * 4 of format version 2): their API and wire forms, validation, the
 * attenuation rule and the exact amounts a budget adds up.
 *
 *   rate   = [calls, per]            calls 1..2^32-1, per 1..2^32-1 seconds
 *   budget = [arg, total]            for the life of the block
 *          / [arg, total, per]       per window of `per` seconds
 *
 * `total` is canonical decimal text (as the `decimal` constraint's bounds),
 * not negative, with at most 18 fraction digits: budgets are summed exactly
 * as integers of 10^-18 units, so 0.1 + 0.2 is exactly 0.3.
 */
import { parseDuration } from '../duration.ts';
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import type { CborValue } from './cbor.ts';
import { isConstraintKey } from './constraints.ts';
import { CANONICAL_DECIMAL, decimalOfNumber, parseDecimal, type Dec } from './policy/decimal.ts';

export interface RateLimit {
  /** Calls allowed per window. */
  readonly calls: number;
  /** Window length, seconds. */
  readonly per: number;
}

export interface BudgetLimit {
  /** Argument path (§6.1) whose values are summed. */
  readonly arg: string;
  /** Largest sum, canonical decimal text. */
  readonly total: string;
  /** Window length, seconds; absent: the sum runs for the life of the block. */
  readonly per?: number;
}

type Err = typeof MalformedError | typeof InvalidArgumentError;

const MAX_U32 = 0xffffffff;
/** Fraction digits of the fixed-point unit budgets are summed in. */
export const BUDGET_SCALE = 18;
const UNIT = 10n ** BigInt(BUDGET_SCALE);
const MAX_TOTAL_BYTES = 64;

function checkCount(v: unknown, what: string, E: Err): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_U32) throw new E(`${what} must be a whole number from 1 to ${MAX_U32}`);
  return v;
}

/** A window length: whole seconds, or (API only) a duration such as `1h`. */
function checkPer(v: unknown, E: Err): number {
  if (typeof v === 'string' && E !== MalformedError) {
    let s: number;
    try {
      s = parseDuration(v);
    } catch (e) {
      throw new E(`per: ${(e as Error).message}`);
    }
    return checkCount(s, 'per (seconds)', E);
  }
  return checkCount(v, 'per (seconds)', E);
}

/** Canonical total text: not negative, at most 18 fraction digits, at most 64 bytes. */
function checkTotal(v: unknown, E: Err): string {
  let text: string | undefined;
  if (typeof v === 'string') text = v;
  else if (typeof v === 'number' && E !== MalformedError) {
    const d = decimalOfNumber(v);
    if (d) text = decText(d);
  }
  if (text === undefined || text.length > MAX_TOTAL_BYTES || !CANONICAL_DECIMAL.test(text))
    throw new E('budget total must be canonical decimal text (e.g. "50" or "0.25": no exponent, no leading or trailing zeros)');
  if (text.startsWith('-')) throw new E('budget total must not be negative');
  const dot = text.indexOf('.');
  if (dot >= 0 && text.length - dot - 1 > BUDGET_SCALE) throw new E(`budget total has more than ${BUDGET_SCALE} fraction digits`);
  return text;
}

function decText(d: Dec): string {
  if (d.sign === 0) return '0';
  return (d.sign < 0 ? '-' : '') + (d.int === '' ? '0' : d.int) + (d.frac === '' ? '' : '.' + d.frac);
}

function checkArg(v: unknown, E: Err): string {
  if (!isConstraintKey(v, 2)) throw new E(`budget arg must be an argument path (§6.1), got ${JSON.stringify(v)}`);
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A rate limit given through the API: `{ calls, per }` with `per` in seconds or a duration. */
export function checkRate(v: unknown, E: Err = InvalidArgumentError): RateLimit {
  if (!isRecord(v)) throw new E('rate is { calls, per }');
  for (const k of Object.keys(v)) if (k !== 'calls' && k !== 'per') throw new E(`rate has unknown member ${JSON.stringify(k)}`);
  return Object.freeze({ calls: checkCount(v.calls, 'rate calls', E), per: checkPer(v.per, E) });
}

/** A budget given through the API: `{ arg, total, per? }`. */
export function checkBudget(v: unknown, E: Err = InvalidArgumentError): BudgetLimit {
  if (!isRecord(v)) throw new E('budget is { arg, total, per? }');
  for (const k of Object.keys(v)) if (k !== 'arg' && k !== 'total' && k !== 'per') throw new E(`budget has unknown member ${JSON.stringify(k)}`);
  const arg = checkArg(v.arg, E);
  const total = checkTotal(v.total, E);
  return Object.freeze(v.per === undefined ? { arg, total } : { arg, total, per: checkPer(v.per, E) });
}

export function encodeRate(r: RateLimit): CborValue {
  return [r.calls, r.per];
}

export function encodeBudget(b: BudgetLimit): CborValue {
  return b.per === undefined ? [b.arg, b.total] : [b.arg, b.total, b.per];
}

export function decodeRate(v: CborValue): RateLimit {
  if (!Array.isArray(v) || v.length !== 2) throw new MalformedError('grant option 3 (rate) must be [calls, per]');
  return Object.freeze({ calls: checkCount(v[0], 'rate calls', MalformedError), per: checkPer(v[1], MalformedError) });
}

export function decodeBudget(v: CborValue): BudgetLimit {
  if (!Array.isArray(v) || v.length < 2 || v.length > 3) throw new MalformedError('grant option 4 (budget) must be [arg, total] or [arg, total, per]');
  const arg = checkArg(v[0], MalformedError);
  const total = checkTotal(v[1], MalformedError);
  return Object.freeze(v.length === 2 ? { arg, total } : { arg, total, per: checkPer(v[2], MalformedError) });
}

/** The limits part of a grant's identity (two grants that differ only in limits are distinct). */
export function limitsIdentity(g: { readonly rate?: RateLimit; readonly budget?: BudgetLimit }): string {
  const r = g.rate ? `r${g.rate.calls}/${g.rate.per}` : '';
  const b = g.budget ? `b${g.budget.arg}\u0000${g.budget.total}/${g.budget.per ?? ''}` : '';
  return r + '\u0000' + b;
}

/** A non-negative decimal in units of 10^-18 (a budget total, or a charged amount). */
export function scaled(d: Dec): bigint {
  return BigInt(d.int === '' ? '0' : d.int) * UNIT + (d.frac === '' ? 0n : BigInt(d.frac.padEnd(BUDGET_SCALE, '0')));
}

/** A total's units. */
export function totalUnits(total: string): bigint {
  return scaled(parseDecimal(total)!);
}

/**
 * Attenuation (§14.4): may a child grant carry `child`'s limits under a
 * parent grant with `parent`'s? Where both carry a rate: calls not more and
 * per not shorter. Where both carry a budget on the same argument: total not
 * more and per not shorter (no per = the whole life, longer than any). A
 * limit the child leaves out, or a budget on another argument, is allowed:
 * the parent's block is charged for every call anyway.
 */
export function limitsCovered(
  child: { readonly rate?: RateLimit; readonly budget?: BudgetLimit },
  parent: { readonly rate?: RateLimit; readonly budget?: BudgetLimit },
): boolean {
  if (parent.rate && child.rate && (child.rate.calls > parent.rate.calls || child.rate.per < parent.rate.per)) return false;
  const pb = parent.budget;
  const cb = child.budget;
  if (pb && cb && pb.arg === cb.arg) {
    if (totalUnits(cb.total) > totalUnits(pb.total)) return false;
    const pp = pb.per ?? Infinity;
    const cp = cb.per ?? Infinity;
    if (cp < pp) return false;
  }
  return true;
}
