/**
 * The Redis side of limit counters (docs/spec.md §14.6): one Lua script that
 * charges every counter of a call or none, atomically (Redis runs a script
 * alone), in one round trip.
 *
 * Counters are decimal integer strings (calls, or budget units of 10^-18),
 * added and compared as digit strings inside the script: Lua numbers are
 * doubles, exact only to 2^53, and a budget of 10 with 18 fraction digits is
 * already 10^19 units. Every key of one call shares the hash tag of its
 * chain's root id (`{ROOTID}`), so the script also runs on Redis Cluster.
 */
import { createHash } from 'node:crypto';
import { UnavailableError } from '../errors.ts';
import type { LimitCharge } from './limits.ts';

/**
 * KEYS[i]: counter i. ARGV[3i-2]: its limit, ARGV[3i-1]: the amount,
 * ARGV[3i]: time to live in ms. Returns 0 when all were charged, else the
 * (1-based) index of the first counter that would pass its limit, having
 * charged nothing.
 */
export const LIMIT_SCRIPT = `local function cmp(a, b)
  if #a ~= #b then return (#a < #b) and -1 or 1 end
  if a == b then return 0 end
  return (a < b) and -1 or 1
end
local function add(a, b)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry
    if i > 0 then d = d + string.byte(a, i) - 48 end
    if j > 0 then d = d + string.byte(b, j) - 48 end
    out[#out + 1] = string.char(48 + d % 10)
    carry = math.floor(d / 10)
    i = i - 1
    j = j - 1
  end
  local s = string.gsub(string.reverse(table.concat(out)), '^0+', '')
  if s == '' then return '0' end
  return s
end
local sums = {}
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if not cur then cur = '0' end
  local s = add(cur, ARGV[3 * i - 1])
  if cmp(s, ARGV[3 * i - 2]) > 0 then return i end
  sums[i] = s
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], sums[i], 'PX', ARGV[3 * i])
end
return 0
`;

export const LIMIT_SCRIPT_SHA = createHash('sha1').update(LIMIT_SCRIPT).digest('hex');

/** The arguments after EVALSHA's sha (or EVAL's script): number of keys, keys, then limit, amount, ttl per key. */
export function limitCommand(charges: readonly LimitCharge[], now: number, prefix: string): { sha: string[]; script: string[] } {
  const keys: string[] = [];
  const argv: string[] = [];
  for (const c of charges) {
    keys.push(prefix + c.key);
    const ttl = Math.max(1, Math.ceil((c.expiresAt - now) * 1000));
    argv.push(c.limit.toString(), c.amount.toString(), String(Number.isFinite(ttl) ? ttl : 1));
  }
  const args = [String(charges.length), ...keys, ...argv];
  return { sha: args, script: args };
}

/** The script's answer as chargeLimits returns it: -1 (all charged) or the 0-based index refused. */
export function limitReply(r: unknown): number {
  if (r === 0) return -1;
  if (typeof r === 'number' && Number.isInteger(r) && r >= 1) return r - 1;
  throw new UnavailableError(`limit store (Redis): unexpected answer ${JSON.stringify(r)}; call denied`);
}
