/**
 * Checks an audit log's hash chain across its rotated files and reports the
 * first line that was altered, inserted or deleted.
 *
 * What a hash chain proves: any change inside the chain breaks it, and the
 * break is located. What it cannot prove on its own: that lines were not cut
 * off the end, or that someone with write access did not rewrite the whole
 * chain from some point on. Record the `head` printed here (or exported by the
 * service's /metrics) somewhere the writer cannot change, and pass it back
 * with `expectHead` to close both gaps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { canonicalJson } from '../token/args.ts';
import { GENESIS, hashRecord, RECORD_KEYS, type AuditRecord } from './record.ts';
import { rotatedFiles, type AuditHead } from './log.ts';
import { checkCheckpoint, type CheckpointClaim } from './checkpoint.ts';

export type ProblemKind =
  | 'altered'
  | 'inserted'
  | 'deleted'
  | 'malformed'
  | 'head-mismatch'
  | 'missing'
  /** A checkpoint whose signature does not verify under a trusted key, or that signs a hash the log does not have. */
  | 'bad-checkpoint'
  /** Keys were trusted but the log holds no checkpoint by them. */
  | 'no-checkpoint'
  /** The last checkpoint is older than allowed (or more lines follow it than allowed): lines were cut off. */
  | 'stale-checkpoint';

export interface AuditProblem {
  readonly kind: ProblemKind;
  readonly file: string;
  /** 1-based line number within `file` (0 when the problem is not one line). */
  readonly line: number;
  readonly seq: number | null;
  readonly message: string;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  readonly files: readonly string[];
  /** Lines checked before the first problem (or in all). */
  readonly lines: number;
  readonly firstSeq: number | null;
  /** Last good line. */
  readonly head: AuditHead | null;
  readonly problem: AuditProblem | null;
  readonly warnings: readonly string[];
  /** The last checkpoint whose signature verified (only with `trust`): the line, the line it signs, its time. */
  readonly checkpoint: { readonly seq: number; readonly at: number; readonly time: string } | null;
  /** Lines after the line the last verified checkpoint signs, besides that checkpoint line: not covered by a signature. */
  readonly uncovered: number;
}

export interface AuditVerifyOptions {
  /** Check only this file, not its rotated predecessors. */
  readonly single?: boolean;
  /** The head hash (or `seq:hash`) recorded elsewhere; the log must end exactly there. */
  readonly expectHead?: string;
  /** Public keys whose checkpoints are trusted: each checkpoint must verify under one of them. */
  readonly trust?: readonly Uint8Array[];
  /** With `trust`: fail when the last checkpoint is older than this many seconds (truncation of a live log). */
  readonly maxCheckpointAge?: number;
  /** With `trust`: fail when more lines than this follow the last checkpoint's signed line. */
  readonly maxUncovered?: number;
  /** Milliseconds since the epoch (for maxCheckpointAge); default Date.now(). */
  readonly now?: number;
}

/** The members of a line: the record's and its hash. */
const FIELDS: readonly string[] = [...RECORD_KEYS, 'hash'];
const HEX64 = /^[0-9a-f]{64}$/;

const CHECKPOINT_FIELDS: readonly string[] = ['at', 'hash', 'head', 'kid', 'prev', 'seq', 'sig', 'time', 'type', 'v'];
type CheckpointLine = CheckpointClaim & { sig: string; seq: number; prev: string; hash: string; type: 'checkpoint' };

function checkpointShape(o: unknown): o is CheckpointLine {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  if (r.type !== 'checkpoint') return false;
  const keys = Object.keys(r);
  if (keys.length !== CHECKPOINT_FIELDS.length || !CHECKPOINT_FIELDS.every((k) => k in r)) return false;
  return (
    typeof r.seq === 'number' &&
    Number.isSafeInteger(r.seq) &&
    r.seq > 1 &&
    typeof r.at === 'number' &&
    Number.isSafeInteger(r.at) &&
    r.at > 0 &&
    r.at < r.seq &&
    typeof r.head === 'string' &&
    HEX64.test(r.head) &&
    typeof r.prev === 'string' &&
    HEX64.test(r.prev) &&
    typeof r.hash === 'string' &&
    HEX64.test(r.hash) &&
    typeof r.kid === 'string' &&
    typeof r.sig === 'string' &&
    typeof r.time === 'string' &&
    r.v === 1
  );
}

function shape(o: unknown): o is AuditRecord & { hash: string } {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length !== FIELDS.length || !FIELDS.every((k) => k in r)) return false;
  return (
    typeof r.seq === 'number' &&
    Number.isSafeInteger(r.seq) &&
    r.seq > 0 &&
    typeof r.prev === 'string' &&
    HEX64.test(r.prev) &&
    typeof r.hash === 'string' &&
    HEX64.test(r.hash) &&
    (r.decision === 'allow' || r.decision === 'deny') &&
    Array.isArray(r.chain)
  );
}

/** The files of a log in chain order. */
export function logFiles(path: string, single = false): string[] {
  if (single) return [path];
  const files = rotatedFiles(path).map((r) => r.file);
  if (existsSync(path)) files.push(path);
  return files;
}

export function verifyAuditLog(path: string, options: AuditVerifyOptions = {}): AuditVerifyResult {
  const files = logFiles(path, options.single);
  const warnings: string[] = [];
  let lines = 0;
  let firstSeq: number | null = null;
  let prevHash: string | null = null;
  let prevSeq = 0;
  let checkpoint: { seq: number; at: number; time: string } | null = null;
  const trust = options.trust && options.trust.length > 0 ? options.trust : undefined;
  const done = (problem: AuditProblem | null): AuditVerifyResult => ({
    ok: problem === null,
    files,
    lines,
    firstSeq,
    head: prevHash === null ? null : { seq: prevSeq, hash: prevHash },
    problem,
    warnings,
    checkpoint,
    uncovered: prevHash === null ? 0 : checkpoint ? prevSeq - checkpoint.at - 1 : prevSeq - (firstSeq ?? 1) + 1,
  });
  if (files.length === 0) {
    return done({ kind: 'missing', file: path, line: 0, seq: null, message: `no audit log at ${path}` });
  }
  // Pass 1: every line on its own (JSON, shape, canonical form, own hash), up to the first bad one.
  interface Entry {
    readonly file: string;
    readonly line: number;
    readonly seq: number;
    readonly prev: string;
    readonly hash: string;
    readonly cp?: CheckpointLine;
  }
  const entries: Entry[] = [];
  let selfProblem: AuditProblem | null = null;
  read: for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      selfProblem = { kind: 'missing', file, line: 0, seq: null, message: `cannot read ${file}: ${(e as Error).message}` };
      break;
    }
    const parts = text.split('\n');
    const tail = parts.pop()!; // '' when the file ends with a newline
    for (let i = 0; i < parts.length; i++) {
      const raw = parts[i]!;
      const loc = { file, line: i + 1 };
      let o: unknown;
      try {
        o = JSON.parse(raw);
      } catch {
        selfProblem = { ...loc, kind: 'altered', seq: null, message: 'line is not valid JSON' };
        break read;
      }
      const cp = checkpointShape(o) ? o : undefined;
      if (!cp && !shape(o)) {
        selfProblem = { ...loc, kind: 'altered', seq: null, message: 'line is not an audit record' };
        break read;
      }
      const { hash, ...record } = o as AuditRecord & { hash: string };
      let canonical: string | undefined;
      try {
        canonical = canonicalJson(o); // throws on values JCS cannot hold (a lone surrogate, deep nesting): an edit too
      } catch {
        /* canonical stays undefined */
      }
      const seq = (o as { seq: number }).seq;
      if (canonical !== raw) {
        selfProblem = { ...loc, kind: 'altered', seq, message: 'line is not in canonical form (edited)' };
        break read;
      }
      if (hashRecord(record) !== hash) {
        selfProblem = { ...loc, kind: 'altered', seq, message: 'line content does not match its hash' };
        break read;
      }
      entries.push({ ...loc, seq, prev: record.prev, hash, ...(cp ? { cp } : {}) });
    }
    if (tail !== '') {
      if (f === files.length - 1) {
        warnings.push(`${file}: the last line is incomplete (${Buffer.byteLength(tail)} bytes, a write cut short by a crash); ignored`);
      } else {
        selfProblem = { kind: 'malformed', file, line: parts.length + 1, seq: null, message: 'incomplete line at the end of a rotated file' };
        break;
      }
    }
  }

  // Pass 2: the links between lines. A break is located with the lines around it.
  for (let j = 0; j < entries.length; j++) {
    const e = entries[j]!;
    const loc = { file: e.file, line: e.line };
    const before = entries[j - 1];
    if (!before) {
      if (e.seq === 1 && e.prev !== GENESIS) return done({ ...loc, kind: 'altered', seq: e.seq, message: 'the first line must follow the genesis hash' });
      if (e.seq > 1) {
        // Lines before it can only be legitimately absent when older rotated files were
        // removed (maxFiles): then the oldest file left is FILE.N with N > 1. If the chain
        // starts in FILE.1, or in FILE with no rotated file at all, lines were deleted.
        const rotated = options.single ? [] : rotatedFiles(path);
        const pruned = options.single || (rotated.length > 0 && rotated[0]!.n > 1);
        if (!pruned) {
          return done({
            ...loc,
            kind: 'deleted',
            seq: e.seq,
            message: `${e.seq - 1} line(s) deleted before this one (seq 1${e.seq > 2 ? `..${e.seq - 1}` : ''}): the log does not start at seq 1`,
          });
        }
        warnings.push(`the log starts at seq ${e.seq}: earlier lines are not here (rotated away or deleted)`);
      }
      firstSeq = e.seq;
    } else if (e.prev !== before.hash) {
      const bLoc = { file: before.file, line: before.line };
      const twoBack = entries[j - 2];
      const next = entries[j + 1];
      if (e.seq > before.seq + 1) {
        const n = e.seq - before.seq - 1;
        return done({
          ...loc,
          kind: 'deleted',
          seq: e.seq,
          message: `${n} line(s) deleted before this one (seq ${before.seq + 1}${n > 1 ? `..${e.seq - 1}` : ''})`,
        });
      }
      if (next && next.prev === before.hash && next.seq === before.seq + 1) {
        return done({ ...loc, kind: 'inserted', seq: e.seq, message: 'line was inserted: the next line follows the one before it' });
      }
      if (twoBack && e.prev === twoBack.hash) {
        return done({ ...bLoc, kind: 'inserted', seq: before.seq, message: 'line was inserted: the next line follows the one before it' });
      }
      if (e.seq === before.seq + 1) {
        return done({ ...bLoc, kind: 'altered', seq: before.seq, message: "line was altered: its hash is not the next line's prev" });
      }
      return done({ ...loc, kind: 'altered', seq: e.seq, message: 'hash chain broken: prev does not match the line before' });
    } else if (e.seq !== before.seq + 1) {
      return done({ ...loc, kind: 'altered', seq: e.seq, message: `seq ${e.seq} does not follow ${before.seq}` });
    }
    if (e.cp && trust) {
      const signed = entries[j - (e.seq - e.cp.at)];
      if (!checkCheckpoint(e.cp, trust)) {
        return done({ ...loc, kind: 'bad-checkpoint', seq: e.seq, message: `checkpoint signature does not verify under a trusted key (kid ${e.cp.kid})` });
      }
      if (signed && signed.seq === e.cp.at) {
        if (signed.hash !== e.cp.head) {
          return done({
            ...loc,
            kind: 'bad-checkpoint',
            seq: e.seq,
            message: `checkpoint signs a hash for seq ${e.cp.at} that the log does not have (rewritten)`,
          });
        }
      } else if (e.cp.at >= (firstSeq ?? 1)) {
        return done({ ...loc, kind: 'bad-checkpoint', seq: e.seq, message: `checkpoint signs seq ${e.cp.at}, which is not in the log` });
      } else {
        warnings.push(`checkpoint at seq ${e.seq} signs seq ${e.cp.at}, which was rotated away; its signature verified`);
      }
      checkpoint = { seq: e.seq, at: e.cp.at, time: e.cp.time };
    }
    prevHash = e.hash;
    prevSeq = e.seq;
    lines++;
  }
  if (selfProblem) return done(selfProblem);
  if (trust) {
    const last = files.at(-1)!;
    if (checkpoint === null) {
      return done({
        kind: 'no-checkpoint',
        file: last,
        line: 0,
        seq: null,
        message: 'no checkpoint signed by a trusted key: nothing in this log is covered by a signature',
      });
    }
    const ageS = ((options.now ?? Date.now()) - Date.parse(checkpoint.time)) / 1000;
    if (options.maxCheckpointAge !== undefined && !(ageS <= options.maxCheckpointAge)) {
      return done({
        kind: 'stale-checkpoint',
        file: last,
        line: 0,
        seq: checkpoint.seq,
        message: `the last checkpoint (seq ${checkpoint.seq}, ${checkpoint.time}) is ${Math.round(ageS)} s old, more than ${options.maxCheckpointAge} s: later lines and checkpoints were cut off, or the writer stopped signing`,
      });
    }
    const uncovered = prevSeq - checkpoint.at - 1; // the checkpoint line itself is not a decision
    if (options.maxUncovered !== undefined && uncovered > options.maxUncovered) {
      return done({
        kind: 'stale-checkpoint',
        file: last,
        line: 0,
        seq: checkpoint.seq,
        message: `${uncovered} lines follow the last checkpoint's signed line, more than ${options.maxUncovered}: checkpoints were removed`,
      });
    }
  }
  if (options.expectHead) {
    const want = options.expectHead.includes(':') ? options.expectHead.split(':')[1]! : options.expectHead;
    if (want !== prevHash) {
      const last = files.at(-1)!;
      return done({
        kind: 'head-mismatch',
        file: last,
        line: 0,
        seq: prevSeq,
        message: `the log ends at seq ${prevSeq} hash ${prevHash ?? 'none'}, not at the expected head ${options.expectHead} (lines cut off or rewritten)`,
      });
    }
  }
  return done(null);
}
