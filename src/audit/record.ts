/**
 * One audit line: what was decided about one tool call, never the token, a
 * key or the raw arguments. Lines are hash-chained: each carries the hash of
 * the line before it (`prev`) and its own `hash`, computed as
 *
 *   hash = hex SHA-256("capframe-audit-v1" 0x00 || JCS(line without "hash"))
 *
 * where JCS is RFC 8785 canonical JSON (src/token/args.ts). A line is written
 * in that same canonical form, so `JSON.parse` then `canonicalJson` gives
 * back the hashed bytes.
 */
import { hash as nodeHash } from 'node:crypto';
import { label, sha256, toHex } from '../crypto/hash.ts';
import { canonicalJson, wellFormed } from '../token/args.ts';

export const AUDIT_VERSION = 1;
/** `prev` of the very first line of a log. */
export const GENESIS = '0'.repeat(64);
const AUDIT_LABEL = label('capframe-audit-v1');

export interface AuditRecord {
  readonly v: number;
  /** Position in the whole log, from 1, continuous across rotated files. */
  readonly seq: number;
  /** ISO 8601 UTC, milliseconds. */
  readonly time: string;
  readonly decision: 'allow' | 'deny';
  /** The error code of a denial; null when allowed. */
  readonly code: string | null;
  /** `signed` (invocation proof) or `local` (in-process check); null when unknown. */
  readonly mode: string | null;
  /** Where the decision was taken, e.g. `local`, `remote` or `service`. */
  readonly source: string | null;
  /** Block ids of the token's chain, root first (hex). Identify the token without revealing it. */
  readonly chain: readonly string[];
  readonly subject: string | null;
  readonly tool: string | null;
  readonly operation: string | null;
  readonly resource: string | null;
  /** Hex argument digest (never the arguments). */
  readonly argsDigest: string | null;
  readonly callId: string | null;
  /** Time taken to decide, milliseconds (null when not measured). */
  readonly latencyMs: number | null;
  /** Hash of the previous line (GENESIS for the first line). */
  readonly prev: string;
}

export interface AuditLine extends AuditRecord {
  readonly hash: string;
}

export function hashRecord(record: AuditRecord): string {
  return toHex(sha256(AUDIT_LABEL, Buffer.from(canonicalJson(record), 'utf8')));
}

/** Member names of a line in JCS order (UTF-16 code unit order: all ASCII here). */
export const RECORD_KEYS = [
  'argsDigest',
  'callId',
  'chain',
  'code',
  'decision',
  'latencyMs',
  'mode',
  'operation',
  'prev',
  'resource',
  'seq',
  'source',
  'subject',
  'time',
  'tool',
  'v',
] as const;

/** `"name":` of each member, quoted once. */
const QUOTED = RECORD_KEYS.map((k) => JSON.stringify(k) + ':');
/** Members before "hash" in JCS order (argsDigest ... decision); the rest follow it. */
const BEFORE_HASH = RECORD_KEYS.indexOf('latencyMs');
const AUDIT_LABEL_TEXT = 'capframe-audit-v1\u0000';

/**
 * The exact text of a line, without the newline, and its hash. JCS of a
 * record built by the writer, without the general serializer: the members
 * are written in sorted order with JSON.stringify, which produces the same
 * text for these value types (well-formed strings, finite numbers, null,
 * arrays of strings). `audit verify` re-checks every line against the
 * general canonicalJson, so any divergence would show up there.
 */
export function formatLine(record: AuditRecord): { text: string; hash: string } {
  let head = '{';
  for (let i = 0; i < BEFORE_HASH; i++) head += QUOTED[i] + JSON.stringify(record[RECORD_KEYS[i]!]) + ',';
  let tail = '';
  for (let i = BEFORE_HASH; i < RECORD_KEYS.length; i++) tail += (i > BEFORE_HASH ? ',' : '') + QUOTED[i] + JSON.stringify(record[RECORD_KEYS[i]!]);
  tail += '}';
  // The label is ASCII and the text well-formed: hashing the string hashes its UTF-8 bytes.
  const hash = nodeHash('sha256', AUDIT_LABEL_TEXT + head + tail, 'hex');
  return { text: head + '"hash":"' + hash + '",' + tail, hash };
}

/**
 * What a decision sink may pass: a `Decision` from the verifier (optionally
 * with `latencyMs`), an event wrapping one (`{ decision, latencyMs }`), or a
 * flat event (`{ decision: 'allow' | 'deny' | boolean, code, tool, ... }`).
 * Only the fields listed in AuditRecord are kept: anything else on the event
 * (a token, arguments) is ignored.
 */
export type AuditEvent = object;

const MAX_FIELD = 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function str(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.length > MAX_FIELD ? v.slice(0, MAX_FIELD) : v;
  if (wellFormed(s)) return s;
  return s.replace(LONE_SURROGATE, '\uFFFD'); // canonical JSON needs well-formed text
}
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) / 1000 : null;
}
const HEX_ID = /^[0-9a-f]{1,64}$/i;
function ids(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (let i = 0; i < v.length && i < 16; i++) {
    const x: unknown = v[i];
    if (typeof x === 'string' && HEX_ID.test(x)) out.push(x);
  }
  return out;
}

/** The audited fields of one event. */
export type EventFields = Omit<AuditRecord, 'v' | 'seq' | 'time' | 'prev'>;

/** Picks the audited fields out of an event; never copies tokens, keys or arguments. */
export function eventFields(ev: AuditEvent): EventFields {
  const event = ev as Readonly<Record<string, unknown>>;
  // A wrapped decision ({ decision: Decision, latencyMs, ... }): its fields win, and only
  // these few are taken from the wrapper. Read in place, without copying either object.
  const wrapped = event.decision;
  const inner =
    wrapped && typeof wrapped === 'object' && typeof (wrapped as { allowed?: unknown }).allowed === 'boolean'
      ? (wrapped as Readonly<Record<string, unknown>>)
      : undefined;
  const get =
    inner === undefined ? (k: string): unknown => event[k] : (k: string): unknown => (inner[k] !== undefined || !WRAPPER_FIELDS.has(k) ? inner[k] : event[k]);
  let allowed: boolean;
  const a = get('allowed');
  const dd = get('decision');
  if (typeof a === 'boolean') allowed = a;
  else if (typeof dd === 'boolean') allowed = dd;
  else allowed = dd === 'allow' || dd === 'allowed';
  const code = allowed ? null : (str(get('code')) ?? 'ERR_INTERNAL');
  return {
    decision: allowed ? 'allow' : 'deny',
    code,
    mode: str(get('mode')),
    source: str(get('source')),
    chain: ids(get('chainIds') ?? get('chain') ?? get('tokenIds')),
    subject: str(get('subject')),
    tool: str(get('tool')),
    operation: str(get('operation')),
    resource: str(get('resource')),
    argsDigest: str(get('argsDigest')),
    callId: str(get('callId')),
    latencyMs: num(get('latencyMs') ?? get('durationMs')),
  };
}

/** What a wrapper around a Decision may add (the Decision's own values win). */
const WRAPPER_FIELDS = new Set(['latencyMs', 'durationMs', 'source', 'callId', 'tool', 'mode']);
