/**
 * Block payloads (docs/spec.md §3): CBOR maps with small integer keys,
 * encoded deterministically. Decoding is strict: unknown keys, missing keys
 * and wrong types are MalformedError.
 */
import { parseDuration } from '../duration.ts';
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from './cbor.ts';
import { decodeConstraints, encodeConstraints, isConstraintKey, V1_TYPES, validateConstraints, type Constraints } from './constraints.ts';
import { LIMITS } from './limits.ts';
import { isWeakPublicKey } from '../crypto/weak.ts';
import { parsePattern, type Pattern } from './resource.ts';
import {
  checkBudget,
  checkRate,
  decodeBudget,
  decodeRate,
  encodeBudget,
  encodeRate,
  limitsIdentity,
  type BudgetLimit,
  type RateLimit,
} from './grant-limits.ts';
import { decodeApprovalGate, encodeApprovalGate, gateIdentity, validateApprovalGate, type ApprovalGate } from './approval.ts';

/** A grant as callers write it. */
export interface Grant {
  /** Resource pattern, e.g. `database://users/*`. */
  readonly resource: string;
  /** Operations allowed on matching resources, e.g. `['read', 'query']`. */
  readonly permissions: readonly string[];
  /** Argument constraints that every call under this grant must satisfy. */
  readonly constraints?: Constraints;
  /** Format version 2: the grant covers calls of these tools only (sorted, unique). Absent: any tool. */
  readonly tools?: readonly string[];
  /** Format version 2: arguments no constraint path reaches are refused (closed world). */
  readonly closed?: boolean;
  /** Format version 2: at most `calls` calls per window of `per` (seconds or a duration such as `1h`) (spec §14). */
  readonly rate?: RateLimit | { readonly calls: number; readonly per: number | string };
  /** Format version 2: the sum of argument `arg` over allowed calls is at most `total` (per window of `per`, or for the token's life) (§14). */
  readonly budget?: BudgetLimit | { readonly arg: string; readonly total: string | number; readonly per?: number | string };
  /**
   * Format version 2: calls under this grant also need `threshold` signed approvals
   * by distinct keys of `approvers` (docs/spec.md §15). Keys as cfk1. text or bytes.
   */
  readonly approval?: { readonly approvers: readonly (string | Uint8Array)[]; readonly threshold: number };
}

/** A grant whose pattern has been parsed (limits in canonical form). */
export interface ResolvedGrant extends Omit<Grant, 'rate' | 'budget' | 'approval'> {
  readonly pattern: Pattern;
  readonly rate?: RateLimit;
  readonly budget?: BudgetLimit;
  /** Approvers as sorted 32-byte keys. */
  readonly approval?: ApprovalGate;
}

/** As on the wire: a delegation grant may name its parent's grant by index. */
export interface WireGrant {
  readonly resource: string | number;
  readonly permissions: readonly string[];
  readonly constraints?: Constraints;
  readonly tools?: readonly string[];
  readonly closed?: boolean;
  readonly rate?: RateLimit;
  readonly budget?: BudgetLimit;
  readonly approval?: ApprovalGate;
}

/** Format versions this code reads (root block field 9); it writes the lowest one the content needs. */
export type FormatVersion = 1 | 2;

export interface RootPayload {
  readonly tid: Uint8Array;
  readonly subject: string;
  readonly holder: Uint8Array;
  readonly grants: readonly WireGrant[];
  readonly iat: number;
  readonly nbf?: number;
  readonly exp: number;
  readonly maxDepth: number;
  /** Root field 9; default 1. */
  readonly version?: FormatVersion;
}

export interface DelegationPayload {
  readonly parent: Uint8Array;
  readonly subject: string;
  readonly holder: Uint8Array;
  /** Absent: the child holds exactly its parent's grants. */
  readonly grants?: readonly WireGrant[];
  readonly nbf?: number;
  /** Absent: the parent's expiry applies. */
  readonly exp?: number;
  readonly maxDepth: number;
}

/** Map keys (spec §3.2, §3.3). */
export const KEY = { parent: 0, tid: 1, subject: 2, holder: 3, grants: 4, iat: 5, nbf: 6, exp: 7, maxDepth: 8, version: 9 } as const;
/** The first wire format version (root block field 9); FORMAT_VERSIONS lists every one this code reads. */
export const FORMAT_VERSION = 1;
export const FORMAT_VERSIONS: readonly FormatVersion[] = [1, 2];
/** Most tools a grant may name. */
export const MAX_TOOLS_PER_GRANT = 16;
/** Keys of a version-2 grant's options map (spec §3.2). */
const OPTION = { tools: 1, closed: 2, rate: 3, budget: 4, approval: 5 } as const;
const ROOT_KEYS = new Set<number>([KEY.version, KEY.tid, KEY.subject, KEY.holder, KEY.grants, KEY.iat, KEY.nbf, KEY.exp, KEY.maxDepth]);
const DELEGATION_KEYS = new Set<number>([KEY.parent, KEY.subject, KEY.holder, KEY.grants, KEY.nbf, KEY.exp, KEY.maxDepth]);

const PERMISSION = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_TIME = 0xffffffff; // uint32 seconds: until 2106
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

type Err = typeof MalformedError | typeof InvalidArgumentError;

/** 1 to `max` bytes of UTF-8 text without control characters (C0, DEL, C1); else `E`. */
export function checkText(v: unknown, what: string, E: Err, max: number = LIMITS.maxStringBytes): string {
  if (typeof v !== 'string' || v.length === 0 || byteLength(v) > max || CONTROL.test(v)) {
    throw new E(`${what} must be 1 to ${max} bytes of text without control characters`);
  }
  return v;
}

export function checkSubject(s: unknown, E: Err): string {
  return checkText(s, 'subject', E);
}

export function checkTime(v: unknown, what: string, E: Err): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_TIME) {
    throw new E(`${what} must be whole seconds since 1970 (0 to 2^32-1)`);
  }
  return v;
}

export function checkPermissions(v: unknown, E: Err): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > LIMITS.maxPermissionsPerGrant) {
    throw new E(`permissions must be a list of 1 to ${LIMITS.maxPermissionsPerGrant} names`);
  }
  for (const p of v) {
    if (typeof p !== 'string' || !PERMISSION.test(p)) throw new E(`permission ${JSON.stringify(p)} must match ${PERMISSION}`);
  }
  return v as string[];
}

/** Permissions in canonical order: sorted, no duplicates. */
export function canonicalPermissions(ps: readonly string[]): string[] {
  return [...new Set(ps)].sort();
}

function isCanonicalPermissions(ps: readonly string[]): boolean {
  for (let i = 1; i < ps.length; i++) if (!(ps[i - 1]! < ps[i]!)) return false;
  return true;
}

function checkBytes(v: unknown, n: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`${what} must be ${n} bytes`);
  return v;
}

/** A holder key: 32 bytes, canonical, not of small order (spec §3.0); else ERR_MALFORMED. */
function checkHolder(v: unknown): Uint8Array {
  const k = checkBytes(v, 32, 'holder key');
  if (isWeakPublicKey(k)) throw new MalformedError('holder key is a small-order or non-canonical Ed25519 point');
  return k;
}

/**
 * What makes two grants of one block the same grant (spec §3.2): resolved
 * pattern, permissions and the encoded constraints. A block may not list one
 * grant twice.
 */
export function grantIdentity(g: {
  readonly resource: string;
  readonly permissions: readonly string[];
  readonly constraints?: Constraints;
  readonly tools?: readonly string[];
  readonly closed?: boolean;
  readonly rate?: RateLimit;
  readonly budget?: BudgetLimit;
  readonly approval?: ApprovalGate;
}): string {
  const cs = g.constraints && Object.keys(g.constraints).length > 0 ? Buffer.from(encode(encodeConstraints(g.constraints))).toString('hex') : '';
  return (
    g.resource +
    '\u0000' +
    g.permissions.join(',') +
    '\u0000' +
    cs +
    '\u0000' +
    (g.tools ?? []).join('\u0000') +
    '\u0000' +
    (g.closed ? 'closed' : '') +
    '\u0000' +
    limitsIdentity(g) +
    '\u0000' +
    gateIdentity(g.approval)
  );
}

/** Refuses a list of grants that holds the same grant twice. */
export function checkDistinctGrants(grants: readonly Parameters<typeof grantIdentity>[0][], E: Err): void {
  if (grants.length < 2) return;
  const seen = new Set<string>();
  for (const g of grants) {
    const id = grantIdentity(g);
    if (seen.has(id)) throw new E(`grant ${g.resource} [${g.permissions.join(',')}] is listed twice`);
    seen.add(id);
  }
}

function checkDepth(v: unknown, E: Err): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > LIMITS.maxDepthField) {
    throw new E(`maximum delegation depth must be an integer from 0 to ${LIMITS.maxDepthField}`);
  }
  return v;
}

const utf8Less = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0;

/** Tool names of a grant: 1 to 16 names (§7), canonical order (sorted by UTF-8 bytes, unique) when `canonical`. */
export function checkTools(v: unknown, E: Err, canonical: boolean): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TOOLS_PER_GRANT) throw new E(`tools must be a list of 1 to ${MAX_TOOLS_PER_GRANT} tool names`);
  const names = v.map((t) => checkText(t, 'tool name', E));
  if (!canonical) return [...new Set(names)].sort((a, b) => (utf8Less(a, b) ? -1 : utf8Less(b, a) ? 1 : 0));
  for (let i = 1; i < names.length; i++) if (!utf8Less(names[i - 1]!, names[i]!)) throw new E('tools must be sorted and unique');
  return names;
}

/** Does the grant use anything of format version 2 (tools, closed, limits, approval, paths, new kinds)? */
export function grantNeedsV2(g: {
  readonly constraints?: Constraints;
  readonly tools?: readonly string[];
  readonly closed?: boolean;
  readonly rate?: unknown;
  readonly budget?: unknown;
  readonly approval?: unknown;
}): boolean {
  if (g.tools !== undefined || g.closed || g.rate !== undefined || g.budget !== undefined || g.approval !== undefined) return true;
  for (const [k, c] of Object.entries(g.constraints ?? {})) if (!isConstraintKey(k, 1) || k.includes('.') || !V1_TYPES.has(c.type)) return true;
  return false;
}

/** Validates grants given through the API; returns them in canonical form. */
export function validateGrants(grants: unknown, E: Err = InvalidArgumentError, version: FormatVersion = 2): ResolvedGrant[] {
  if (!Array.isArray(grants) || grants.length === 0 || grants.length > LIMITS.maxGrantsPerBlock) {
    throw new E(`grants must be a list of 1 to ${LIMITS.maxGrantsPerBlock} grants`);
  }
  const out = grants.map((g: unknown) => {
    if (typeof g !== 'object' || g === null) throw new E('a grant is an object { resource, permissions, constraints? }');
    const { resource, permissions, constraints, tools, closed, rate, budget, approval } = g as Record<string, unknown>;
    if (typeof resource !== 'string') throw new E('grant.resource must be a string');
    let pattern: Pattern;
    try {
      pattern = parsePattern(resource);
    } catch (e) {
      throw new E((e as Error).message);
    }
    const perms = canonicalPermissions(checkPermissions(permissions, E));
    const cs = constraints === undefined ? undefined : validateConstraints(constraints, E, version);
    if (version === 1 && (tools !== undefined || closed !== undefined || rate !== undefined || budget !== undefined || approval !== undefined))
      throw new E('tools, closed, rate, budget and approval need format version 2');
    const gate = approval === undefined ? undefined : validateApprovalGate(approval, E);
    const ts = tools === undefined ? undefined : Object.freeze(checkTools(tools, E, E === MalformedError));
    if (closed !== undefined && typeof closed !== 'boolean') throw new E('closed must be true or false');
    const r = rate === undefined ? undefined : checkRate(rate, E);
    const b = budget === undefined ? undefined : checkBudget(budget, E);
    return Object.freeze({
      resource,
      pattern,
      permissions: Object.freeze(perms),
      ...(cs && Object.keys(cs).length > 0 ? { constraints: cs } : {}),
      ...(ts ? { tools: ts } : {}),
      ...(closed ? { closed: true } : {}),
      ...(r ? { rate: r } : {}),
      ...(b ? { budget: b } : {}),
      ...(gate ? { approval: gate } : {}),
    });
  });
  checkDistinctGrants(out, E);
  return out;
}

function encodeGrant(g: WireGrant): CborValue {
  const out: CborValue[] = [g.resource, [...g.permissions]];
  const hasConstraints = g.constraints !== undefined && Object.keys(g.constraints).length > 0;
  const options: CborMap = new Map();
  if (g.tools !== undefined) options.set(OPTION.tools, [...g.tools]);
  if (g.closed) options.set(OPTION.closed, true);
  if (g.rate !== undefined) options.set(OPTION.rate, encodeRate(g.rate));
  if (g.budget !== undefined) options.set(OPTION.budget, encodeBudget(g.budget));
  if (g.approval) options.set(OPTION.approval, encodeApprovalGate(g.approval));
  if (hasConstraints) out.push(encodeConstraints(g.constraints!));
  if (options.size > 0) {
    if (!hasConstraints) out.push(null);
    out.push(options);
  }
  return out;
}

function decodeOptions(v: CborValue | undefined): { tools?: string[]; closed?: boolean; rate?: RateLimit; budget?: BudgetLimit; approval?: ApprovalGate } {
  if (!(v instanceof Map) || v.size === 0) throw new MalformedError('grant options must be a non-empty map');
  const out: { tools?: string[]; closed?: boolean; rate?: RateLimit; budget?: BudgetLimit; approval?: ApprovalGate } = {};
  for (const [k, x] of v) {
    if (k === OPTION.tools) out.tools = checkTools(x, MalformedError, true);
    else if (k === OPTION.closed) {
      if (x !== true) throw new MalformedError('grant option 2 (closed) must be true');
      out.closed = true;
    } else if (k === OPTION.rate) out.rate = decodeRate(x);
    else if (k === OPTION.budget) out.budget = decodeBudget(x);
    else if (k === OPTION.approval) out.approval = decodeApprovalGate(x);
    else throw new MalformedError(`grant options have unknown key ${JSON.stringify(k)}`);
  }
  return out;
}

function decodeGrants(v: CborValue | undefined, allowIndex: boolean, version: FormatVersion): WireGrant[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > LIMITS.maxGrantsPerBlock) {
    throw new MalformedError(`grants must be an array of 1 to ${LIMITS.maxGrantsPerBlock} grants`);
  }
  return v.map((g) => {
    const maxItems = version === 1 ? 3 : 4;
    if (!Array.isArray(g) || g.length < 2 || g.length > maxItems)
      throw new MalformedError(
        version === 1 ? 'a grant is [resource, permissions, constraints?]' : 'a grant is [resource, permissions, constraints?, options?]',
      );
    const [resource, perms, cs, opts] = g;
    if (typeof resource === 'number') {
      if (!allowIndex || !Number.isSafeInteger(resource) || resource < 0) throw new MalformedError('grant resource index is only allowed in delegation blocks');
    } else if (typeof resource === 'string') {
      parsePattern(resource);
    } else {
      throw new MalformedError('grant resource must be a pattern or a parent grant index');
    }
    const permissions = checkPermissions(perms, MalformedError);
    if (!isCanonicalPermissions(permissions)) throw new MalformedError('permissions must be sorted and unique');
    // Four items: constraints may be null (options only); three items: constraints, never null.
    const constraints = g.length >= 3 && !(g.length === 4 && cs === null) ? decodeConstraints(cs as CborValue, version) : undefined;
    const options = g.length === 4 ? decodeOptions(opts) : {};
    return {
      resource,
      permissions,
      ...(constraints ? { constraints } : {}),
      ...options,
    };
  });
}

function asMap(bytes: Uint8Array, allowed: Set<number>, what: string): CborMap {
  const v = decodeStrict(bytes);
  if (!(v instanceof Map)) throw new MalformedError(`${what} payload must be a CBOR map`);
  for (const k of v.keys()) {
    if (typeof k !== 'number' || !allowed.has(k)) throw new MalformedError(`${what} payload has unknown field ${JSON.stringify(k)}`);
  }
  return v;
}

function required<T>(m: CborMap, k: number, what: string): CborValue {
  const v = m.get(k);
  if (v === undefined) throw new MalformedError(`${what} payload is missing field ${k}`);
  return v as T & CborValue;
}

export function encodeRootPayload(p: RootPayload): Uint8Array {
  const m: CborMap = new Map<number, CborValue>([
    [KEY.version, p.version ?? FORMAT_VERSION],
    [KEY.tid, p.tid],
    [KEY.subject, p.subject],
    [KEY.holder, p.holder],
    [KEY.grants, p.grants.map(encodeGrant)],
    [KEY.iat, p.iat],
    [KEY.exp, p.exp],
    [KEY.maxDepth, p.maxDepth],
  ]);
  if (p.nbf !== undefined) m.set(KEY.nbf, p.nbf);
  return encode(m);
}

export function decodeRootPayload(bytes: Uint8Array): RootPayload {
  const m = asMap(bytes, ROOT_KEYS, 'root block');
  const version = required(m, KEY.version, 'root block');
  if (version !== 1 && version !== 2)
    throw new MalformedError(`unsupported format version ${JSON.stringify(version)} (this verifier reads versions ${FORMAT_VERSIONS.join(' and ')})`);
  const nbf = m.get(KEY.nbf);
  const p: RootPayload = {
    tid: checkBytes(required(m, KEY.tid, 'root block'), 16, 'token id'),
    subject: checkSubject(required(m, KEY.subject, 'root block'), MalformedError),
    holder: checkHolder(required(m, KEY.holder, 'root block')),
    grants: decodeGrants(required(m, KEY.grants, 'root block'), false, version),
    iat: checkTime(required(m, KEY.iat, 'root block'), 'iat', MalformedError),
    ...(nbf !== undefined ? { nbf: checkTime(nbf, 'nbf', MalformedError) } : {}),
    exp: checkTime(required(m, KEY.exp, 'root block'), 'exp', MalformedError),
    maxDepth: checkDepth(required(m, KEY.maxDepth, 'root block'), MalformedError),
    version,
  };
  if (p.exp <= p.iat) throw new MalformedError('root block expires before it was issued');
  if (p.nbf !== undefined && p.nbf >= p.exp) throw new MalformedError('root block is never valid (nbf >= exp)');
  return p;
}

export function encodeDelegationPayload(p: DelegationPayload): Uint8Array {
  const m: CborMap = new Map<number, CborValue>([
    [KEY.parent, p.parent],
    [KEY.subject, p.subject],
    [KEY.holder, p.holder],
    [KEY.maxDepth, p.maxDepth],
  ]);
  if (p.grants !== undefined) m.set(KEY.grants, p.grants.map(encodeGrant));
  if (p.nbf !== undefined) m.set(KEY.nbf, p.nbf);
  if (p.exp !== undefined) m.set(KEY.exp, p.exp);
  return encode(m);
}

/** Decodes a delegation payload; `version` is the chain's (its root's field 9). */
export function decodeDelegationPayload(bytes: Uint8Array, version: FormatVersion = 1): DelegationPayload {
  const m = asMap(bytes, DELEGATION_KEYS, 'delegation block');
  const grants = m.get(KEY.grants);
  const nbf = m.get(KEY.nbf);
  const exp = m.get(KEY.exp);
  const p: DelegationPayload = {
    parent: checkBytes(required(m, KEY.parent, 'delegation block'), 16, 'parent link'),
    subject: checkSubject(required(m, KEY.subject, 'delegation block'), MalformedError),
    holder: checkHolder(required(m, KEY.holder, 'delegation block')),
    ...(grants !== undefined ? { grants: decodeGrants(grants, true, version) } : {}),
    ...(nbf !== undefined ? { nbf: checkTime(nbf, 'nbf', MalformedError) } : {}),
    ...(exp !== undefined ? { exp: checkTime(exp, 'exp', MalformedError) } : {}),
    maxDepth: checkDepth(required(m, KEY.maxDepth, 'delegation block'), MalformedError),
  };
  if (p.exp === 0) throw new MalformedError('delegation block expires at 0');
  if (p.nbf !== undefined && p.exp !== undefined && p.nbf >= p.exp) throw new MalformedError('delegation block is never valid (nbf >= exp)');
  return p;
}

/** The expiry asked for by `ttl` (from `now`) or `expiresAt`; undefined when neither is given. */
export function expiryFrom(now: number, ttl: string | number | undefined, expiresAt: number | undefined): number | undefined {
  if (ttl !== undefined && expiresAt !== undefined) throw new InvalidArgumentError('give ttl or expiresAt, not both');
  // Checked like expiresAt: an expiry past 2^32-1 s would make a token no verifier accepts.
  if (ttl !== undefined) return checkTime(now + parseDuration(ttl), 'the expiry (now + ttl)', InvalidArgumentError);
  if (expiresAt !== undefined) return checkTime(expiresAt, 'expiresAt', InvalidArgumentError);
  return undefined;
}
