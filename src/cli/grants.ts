/**
 * The grant and constraint syntax of `issue` and `delegate` (GRANT_HELP in
 * ./usage.ts), checked by the token-level validator. Apart from ./args.ts so
 * that commands without grants never load the constraint code.
 */
import { validateConstraint, type Constraint, type Constraints, type Scalar } from '../token/constraints.ts';
import type { Grant } from '../token/block.ts';
import { UsageError } from './args.ts';
import { checkBudget, checkRate, type BudgetLimit, type RateLimit } from '../token/grant-limits.ts';

/** `RESOURCE:perm1,perm2` → grant without constraints. Split on the last ':'. */
export function parseGrant(text: string): { resource: string; permissions: string[] } {
  const cut = text.lastIndexOf(':');
  const resource = cut < 0 ? '' : text.slice(0, cut).trim();
  const perms =
    cut < 0
      ? []
      : text
          .slice(cut + 1)
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
  // "scheme://x" with nothing after the last ':' would cut inside "://": say what is missing.
  if (cut < 0 || resource === '' || perms.length === 0 || text.slice(cut).startsWith('://')) {
    throw new UsageError(`--grant ${JSON.stringify(text)}: expected RESOURCE:perm1,perm2 (e.g. 'database://users/*:read,query')`);
  }
  return { resource, permissions: perms };
}

const KINDS = [
  'exact',
  'oneOf',
  'range',
  'glob',
  'prefix',
  'under',
  'notOneOf',
  'decimal',
  'length',
  'subset',
  'contains',
  'cidr',
  'regex',
  'urlSafe',
  'url',
  'json',
] as const;

/** exact/oneOf values: JSON numbers, true, false, null and "quoted strings"; anything else is a plain string. */
export function parseScalar(text: string): Scalar {
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  } catch {
    /* a plain string */
  }
  return text;
}

function parseBound(text: string, spec: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^-?\d{1,16}$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new UsageError(`--constraint ${JSON.stringify(spec)}: range bounds are whole numbers (MIN..MAX, either side optional)`);
  }
  return Number(t);
}

/** `ARG=KIND:VALUE` → [argument name, constraint], checked by the token-level validator (one syntax). */
export function parseConstraint(text: string): [string, Constraint] {
  const [name, c] = parseConstraintShape(text);
  try {
    return [name, validateConstraint(name, c)];
  } catch (e) {
    throw new UsageError(`--constraint ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
}

function scalarList(value: string, text: string, kind: string): Scalar[] {
  const t = value.trim();
  if (t.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(t);
    } catch {
      throw new UsageError(`--constraint ${JSON.stringify(text)}: ${kind} value starting with '[' must be a JSON array`);
    }
    if (!Array.isArray(arr)) throw new UsageError(`--constraint ${JSON.stringify(text)}: ${kind} needs a list`);
    return arr as Scalar[];
  }
  return value.split(',').map((v) => parseScalar(v.trim()));
}

function textBounds(value: string, text: string): { min?: string; max?: string } {
  const parts = value.split('..');
  if (parts.length !== 2) throw new UsageError(`--constraint ${JSON.stringify(text)}: expected MIN..MAX (either side optional)`);
  const [a, b] = parts.map((p) => p.trim());
  return { ...(a ? { min: a } : {}), ...(b ? { max: b } : {}) };
}

function parseConstraintShape(text: string): [string, Constraint | Record<string, unknown>] {
  const eq = text.indexOf('=');
  const colon = eq < 0 ? -1 : text.indexOf(':', eq);
  if (eq <= 0 || colon < 0) {
    throw new UsageError(`--constraint ${JSON.stringify(text)}: expected ARG=KIND:VALUE, KIND one of ${KINDS.join(', ')}`);
  }
  const name = text.slice(0, eq).trim();
  const kind = text.slice(eq + 1, colon).trim();
  const value = text.slice(colon + 1);
  switch (kind.toLowerCase()) {
    case 'exact':
      return [name, { type: 'exact', value: parseScalar(value) }];
    case 'oneof': {
      let values: Scalar[];
      const t = value.trim();
      if (t.startsWith('[')) {
        let arr: unknown;
        try {
          arr = JSON.parse(t);
        } catch {
          throw new UsageError(`--constraint ${JSON.stringify(text)}: oneOf value starting with '[' must be a JSON array`);
        }
        if (!Array.isArray(arr)) throw new UsageError(`--constraint ${JSON.stringify(text)}: oneOf needs a list`);
        values = arr.map((v: unknown) => {
          if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
          throw new UsageError(`--constraint ${JSON.stringify(text)}: oneOf values are strings, numbers, true, false or null`);
        });
      } else {
        values = value.split(',').map((v) => parseScalar(v.trim()));
      }
      if (values.length === 0 || (values.length === 1 && values[0] === '')) {
        throw new UsageError(`--constraint ${JSON.stringify(text)}: oneOf needs at least one value`);
      }
      return [name, { type: 'oneOf', values }];
    }
    case 'range': {
      const parts = value.split('..');
      if (parts.length !== 2) throw new UsageError(`--constraint ${JSON.stringify(text)}: range is MIN..MAX (either side optional)`);
      const min = parseBound(parts[0]!, text);
      const max = parseBound(parts[1]!, text);
      if (min === undefined && max === undefined) throw new UsageError(`--constraint ${JSON.stringify(text)}: a range needs MIN, MAX or both`);
      if (min !== undefined && max !== undefined && min > max) throw new UsageError(`--constraint ${JSON.stringify(text)}: MIN is greater than MAX`);
      return [name, { type: 'range', ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }];
    }
    case 'glob':
      return [name, { type: 'glob', pattern: value }];
    case 'prefix':
      return [name, { type: 'prefix', prefix: value }];
    case 'under':
    case 'pathunder':
      return [name, { type: 'pathUnder', path: value }];
    case 'notoneof':
      return [name, { type: 'notOneOf', values: scalarList(value, text, 'notOneOf') }];
    case 'subset':
      return [name, { type: 'subset', values: scalarList(value, text, 'subset') }];
    case 'contains':
      return [name, { type: 'contains', values: scalarList(value, text, 'contains') }];
    case 'decimal':
      return [name, { type: 'decimal', ...textBounds(value, text) }];
    case 'length': {
      const { min, max } = textBounds(value, text);
      const n = (s: string | undefined) => (s === undefined ? undefined : /^\d{1,10}$/.test(s) ? Number(s) : NaN);
      return [name, { type: 'length', ...(min !== undefined ? { min: n(min) } : {}), ...(max !== undefined ? { max: n(max) } : {}) }];
    }
    case 'cidr':
      return [name, { type: 'cidr', cidr: value.trim() }];
    case 'regex':
      return [name, { type: 'regex', pattern: value }];
    case 'urlsafe':
      return [name, { type: 'urlSafe' }];
    case 'url':
    case 'json': {
      let v: unknown;
      try {
        v = JSON.parse(value);
      } catch {
        throw new UsageError(`--constraint ${JSON.stringify(text)}: ${kind} needs a JSON object`);
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`--constraint ${JSON.stringify(text)}: ${kind} needs a JSON object`);
      return [name, kind.toLowerCase() === 'url' ? { ...v, type: 'url' } : (v as Record<string, unknown>)];
    }
    default:
      throw new UsageError(`--constraint ${JSON.stringify(text)}: unknown kind ${JSON.stringify(kind)} (use ${KINDS.join(', ')})`);
  }
}

/** Every --constraint of a command, keyed by argument name. Undefined when there are none. */
export function parseConstraints(texts: readonly string[]): Constraints | undefined {
  if (texts.length === 0) return undefined;
  const out: Record<string, Constraint> = {};
  for (const t of texts) {
    const [name, c] = parseConstraint(t);
    if (Object.prototype.hasOwnProperty.call(out, name)) {
      throw new UsageError(`--constraint: argument "${name}" is constrained twice (one constraint per argument)`);
    }
    out[name] = c;
  }
  return out;
}

/** `--tools a,b` (repeatable) → tool names, or undefined when not given. */
export function parseTools(texts: readonly string[]): string[] | undefined {
  if (texts.length === 0) return undefined;
  const tools = texts
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (tools.length === 0) throw new UsageError('--tools needs one or more tool names (--tools send_money,get_balance)');
  return tools;
}

/** `--rate CALLS/PER` (`100/1h`) → a rate limit (docs/spec.md §14), checked by the token-level validator. */
export function parseRate(text: string | undefined): RateLimit | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--rate ${JSON.stringify(text)}: expected CALLS/PER (e.g. 100/1h)`);
  try {
    return checkRate({ calls: Number(m[1]), per: /^\d+$/.test(m[2]!) ? Number(m[2]) : m[2] });
  } catch (e) {
    throw new UsageError(`--rate ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
}

/** `--budget ARG=TOTAL[/PER]` (`amount=50/1d`, `amount=0.5`) → a budget (§14). */
export function parseBudget(text: string | undefined): BudgetLimit | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*([^=\s]+)\s*=\s*([0-9.]+)\s*(?:\/\s*(\S+))?\s*$/.exec(text);
  if (!m) throw new UsageError(`--budget ${JSON.stringify(text)}: expected ARG=TOTAL or ARG=TOTAL/PER (e.g. amount=50/1d)`);
  try {
    const per = m[3] === undefined ? undefined : /^\d+$/.test(m[3]) ? Number(m[3]) : m[3];
    return checkBudget({ arg: m[1], total: m[2], ...(per !== undefined ? { per } : {}) });
  } catch (e) {
    throw new UsageError(`--budget ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
}

/** --grant list plus --constraint, --tools, --closed, --rate and --budget → grants; those apply to every grant. */
export function parseGrants(
  grantTexts: readonly string[],
  constraintTexts: readonly string[],
  toolTexts: readonly string[] = [],
  closed = false,
  limits: { rate?: string | undefined; budget?: string | undefined } = {},
): Grant[] {
  const constraints = parseConstraints(constraintTexts);
  const tools = parseTools(toolTexts);
  const rate = parseRate(limits.rate);
  const budget = parseBudget(limits.budget);
  return grantTexts.map((t) => ({
    ...parseGrant(t),
    ...(constraints ? { constraints } : {}),
    ...(tools ? { tools } : {}),
    ...(closed ? { closed: true } : {}),
    ...(rate ? { rate } : {}),
    ...(budget ? { budget } : {}),
  }));
}

/** The syntax of --constraint, for display (inspect). */
export function formatConstraint(name: string, c: Constraint): string {
  switch (c.type) {
    case 'exact':
      return `${name}=exact:${formatScalar(c.value)}`;
    case 'oneOf':
      return `${name}=oneOf:${c.values.some((v) => typeof v === 'string' && v.includes(',')) ? JSON.stringify(c.values) : c.values.map(formatScalar).join(',')}`;
    case 'range':
      return `${name}=range:${c.min ?? ''}..${c.max ?? ''}`;
    case 'glob':
      return `${name}=glob:${c.pattern}`;
    case 'prefix':
      return `${name}=prefix:${c.prefix}`;
    case 'pathUnder':
      return `${name}=under:${c.path}`;
    default: {
      const { type, ...rest } = c;
      return `${name}=${type}:${JSON.stringify(rest)}`;
    }
  }
}

function formatScalar(v: Scalar): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  // a string that would read back as something else is quoted
  return parseScalar(v) === v && !v.startsWith('"') ? v : JSON.stringify(v);
}

/** The flags `issue` and `delegate` share. */
export const TOKEN_FLAGS = {
  key: { type: 'string' },
  sub: { type: 'string' },
  grant: { type: 'string', multiple: true },
  constraint: { type: 'string', multiple: true },
  tools: { type: 'string', multiple: true },
  closed: { type: 'boolean' },
  rate: { type: 'string' },
  budget: { type: 'string' },
  ttl: { type: 'string' },
  'max-depth': { type: 'string' },
  out: { type: 'string' },
} as const;
