/**
 * The audit log writer: one hash-chained JSON line per decision (see
 * record.ts), appended with one synchronous write(2) per call of write()
 * (one line) or writeMany() (the lines of one service batch) on a file
 * opened O_APPEND. When it returns, the lines are in the kernel: a crash of
 * the process (even SIGKILL) loses at most the lines being written at that
 * moment, whose decisions have not been answered yet. `fsync: true` also survives power loss, at a large cost per line.
 *
 * Rotation by size: when the active file would grow past `maxBytes`, it is
 * renamed `<path>.<n>` (n = 1, 2, ... oldest first) and a new file begun.
 * The chain continues across files: the first line of the new file carries
 * the hash of the last line of the previous one.
 *
 * On open, the writer continues the chain from the last complete line
 * (of the active file or else of the newest rotated file). A torn last line
 * (the crash case) is cut off first.
 *
 * One writer per log: two processes appending to the same file would fork
 * the chain, which `capframe audit verify` then reports.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CapframeError, ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { AUDIT_VERSION, eventFields, formatLine, GENESIS, hashRecord, type AuditEvent, type AuditRecord } from './record.ts';
import { signCheckpoint, type CheckpointOptions } from './checkpoint.ts';
import { canonicalJson } from '../token/args.ts';

export interface AuditLogOptions {
  /** The active log file. Created (with its directory) when missing. */
  readonly path: string;
  /** Rotate before the active file would exceed this many bytes. 0 = never. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Rotated files to keep (oldest deleted first). 0 = keep all. Default 0. */
  readonly maxFiles?: number;
  /** fdatasync after every line. Default false. */
  readonly fsync?: boolean;
  /** Written into every line's `source` when the event has none, e.g. `service`. */
  readonly source?: string;
  /** Milliseconds since the epoch; inject in tests. */
  readonly now?: () => number;
  /** Sign the chain head now and then (checkpoint.ts), so that truncation can be detected. */
  readonly checkpoint?: CheckpointOptions;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** Rotated files of a log, oldest first: `<path>.1`, `<path>.2`, ... */
export function rotatedFiles(path: string): { n: number; file: string }[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { n: number; file: string }[] = [];
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const rest = name.slice(base.length + 1);
    if (/^[1-9][0-9]{0,8}$/.test(rest)) out.push({ n: Number(rest), file: join(dir, name) });
  }
  return out.sort((a, b) => a.n - b.n);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Reads the last complete line of a file and where it ends; cuts a torn tail off when `repair`. */
function lastLine(path: string, repair: boolean): { line: string | null; end: number } {
  let fd: number;
  try {
    fd = openSync(path, repair ? 'r+' : 'r');
  } catch {
    return { line: null, end: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return { line: null, end: 0 };
    const chunk = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(chunk);
    readSync(fd, buf, 0, chunk, size - chunk);
    const end = buf.lastIndexOf(0x0a);
    if (end === -1 && chunk < size) throw new ConfigError(`audit log ${path}: last line is longer than 256 KiB`);
    const completeEnd = end === -1 ? 0 : size - chunk + end + 1;
    if (completeEnd !== size && repair) ftruncateSync(fd, completeEnd);
    if (end === -1) return { line: null, end: 0 };
    const start = buf.lastIndexOf(0x0a, end - 1) + 1;
    if (start === 0 && chunk < size) throw new ConfigError(`audit log ${path}: last line is longer than 256 KiB`);
    return { line: buf.subarray(start, end).toString('utf8'), end: completeEnd };
  } finally {
    closeSync(fd);
  }
}

function headOf(line: string, path: string): AuditHead {
  try {
    const o = JSON.parse(line) as { seq?: unknown; hash?: unknown };
    if (typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq > 0 && typeof o.hash === 'string' && /^[0-9a-f]{64}$/.test(o.hash)) {
      return { seq: o.seq, hash: o.hash };
    }
  } catch {
    /* fall through */
  }
  throw new ConfigError(`audit log ${path}: the last line is not an audit record; run \`capframe audit verify ${path}\``);
}

export class AuditLog {
  readonly path: string;
  readonly maxBytes: number;
  readonly maxFiles: number;
  readonly fsync: boolean;
  readonly source: string | null;
  readonly #now: () => number;
  #fd: number;
  #size: number;
  #seq: number;
  #hash: string;
  #nextRotation: number;
  #closed = false;
  readonly #checkpoint: Required<CheckpointOptions> | undefined;
  #sinceCheckpoint = 0;
  #signing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastCheckpoint: { seq: number; at: number; time: string; kid: string; head: string; sig: string } | null = null;
  /** Checkpoints that could not be signed or written (the log goes on; /metrics shows the count). */
  checkpointFailures = 0;

  /** Opens (or creates) the log and continues its chain. A file that cannot be opened is ERR_CONFIG, naming the path. */
  static open(options: AuditLogOptions): AuditLog {
    try {
      return new AuditLog(options);
    } catch (e) {
      if (e instanceof CapframeError) throw e;
      throw new ConfigError(`cannot open the audit log ${options.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private constructor(o: AuditLogOptions) {
    if (!o || typeof o.path !== 'string' || o.path.length === 0) throw new InvalidArgumentError('AuditLog needs a path');
    const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    const maxFiles = o.maxFiles ?? 0;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidArgumentError('audit maxBytes must be a whole number of bytes');
    if (maxBytes > 0 && maxBytes < 4096) throw new InvalidArgumentError('audit maxBytes must be at least 4096 (or 0: never rotate)');
    if (!Number.isSafeInteger(maxFiles) || maxFiles < 0) throw new InvalidArgumentError('audit maxFiles must be a whole number');
    this.path = o.path;
    this.maxBytes = maxBytes;
    this.maxFiles = maxFiles;
    this.fsync = o.fsync ?? false;
    this.source = o.source ?? null;
    this.#now = o.now ?? Date.now;
    mkdirSync(dirname(o.path), { recursive: true });
    const rotated = rotatedFiles(o.path);
    this.#nextRotation = (rotated.at(-1)?.n ?? 0) + 1;
    let tail = lastLine(o.path, true);
    let from = o.path;
    if (tail.line === null && rotated.length > 0) {
      from = rotated.at(-1)!.file;
      tail = lastLine(from, false);
    }
    const head = tail.line === null ? { seq: 0, hash: GENESIS } : headOf(tail.line, from);
    this.#seq = head.seq;
    this.#hash = head.hash;
    this.#fd = openSync(o.path, 'a', 0o640);
    this.#size = fileSize(o.path);
    if (o.checkpoint) {
      const everyLines = o.checkpoint.everyLines ?? 1000;
      const everySeconds = o.checkpoint.everySeconds ?? 60;
      if (!Number.isSafeInteger(everyLines) || everyLines < 1) throw new InvalidArgumentError('checkpoint everyLines must be a whole number from 1');
      if (!Number.isFinite(everySeconds) || everySeconds < 0) throw new InvalidArgumentError('checkpoint everySeconds must be 0 or more');
      if (!o.checkpoint.signer || typeof o.checkpoint.signer.sign !== 'function') throw new InvalidArgumentError('checkpoint needs a signer');
      this.#checkpoint = { signer: o.checkpoint.signer, everyLines, everySeconds };
      if (everySeconds > 0) {
        this.#timer = setInterval(() => void this.checkpoint(), everySeconds * 1000);
        this.#timer.unref();
      }
    }
  }

  /** The last checkpoint this writer appended (null before the first). */
  get lastCheckpoint(): { seq: number; at: number; time: string; kid: string; head: string; sig: string } | null {
    return this.#lastCheckpoint;
  }

  /**
   * Signs the current head and appends a checkpoint line (when a signer is
   * configured). Resolves when the line is written; never rejects: a failure
   * is counted in `checkpointFailures`. Call before `close()` for a final
   * checkpoint.
   */
  checkpoint(): Promise<void> {
    const cp = this.#checkpoint;
    if (!cp || this.#closed) return Promise.resolve();
    if (this.#signing) return this.#signing;
    const head = this.head;
    const time = this.#iso();
    this.#sinceCheckpoint = 0;
    this.#signing = signCheckpoint(cp.signer, head, time)
      .then((claim) => {
        if (this.#closed) return;
        const record: Record<string, unknown> = { ...claim, prev: this.#hash, seq: this.#seq + 1, type: 'checkpoint' };
        const hash = hashRecord(record as unknown as AuditRecord);
        const text = canonicalJson({ ...record, hash }) + '\n';
        this.#append(text, this.#seq + 1, hash);
        this.#lastCheckpoint = { seq: this.#seq, at: claim.at, time: claim.time, kid: claim.kid, head: claim.head, sig: claim.sig };
      })
      .catch(() => {
        this.checkpointFailures++;
      })
      .finally(() => {
        this.#signing = undefined;
      });
    return this.#signing;
  }

  /** Sequence number and hash of the last line written (seq 0 and GENESIS for an empty log). */
  get head(): AuditHead {
    return { seq: this.#seq, hash: this.#hash };
  }

  /**
   * Appends one line for a decision event and returns the record written.
   * Synchronous: when it returns, the line is in the file.
   */
  write(event: AuditEvent): AuditRecord & { hash: string } {
    return this.writeMany([event])[0]!;
  }

  /**
   * Appends the lines of several decisions with one write(2) (the service's
   * batch endpoint). When it returns, every line is in the file; when it
   * throws (ERR_UNAVAILABLE), none is: the file is cut back to the last
   * complete line before them. The lines of one call never straddle a
   * rotation (a group may take the new file past maxBytes by its own size).
   */
  writeMany(events: readonly AuditEvent[]): (AuditRecord & { hash: string })[] {
    if (this.#closed) throw new UnavailableError('audit log is closed');
    if (!Array.isArray(events)) throw new InvalidArgumentError('audit events must be an array');
    const out: (AuditRecord & { hash: string })[] = [];
    let seq = this.#seq;
    let prev = this.#hash;
    let text = '';
    for (const event of events) {
      if (!event || typeof event !== 'object') throw new InvalidArgumentError('audit event must be an object');
      const fields = eventFields(event);
      const record: AuditRecord = {
        v: AUDIT_VERSION,
        seq: ++seq,
        time: this.#iso(),
        ...fields,
        source: fields.source ?? this.source,
        prev,
      };
      const line = formatLine(record);
      text += line.text + '\n';
      prev = line.hash;
      (record as { hash?: string }).hash = line.hash; // after formatLine, which reads only the record's own fields
      out.push(record as AuditRecord & { hash: string });
    }
    if (out.length === 0) return out;
    this.#append(text, seq, prev);
    if (this.#checkpoint && (this.#sinceCheckpoint += out.length) >= this.#checkpoint.everyLines) void this.checkpoint();
    return out;
  }

  /** Appends complete lines with one write(2) and moves the head; all or nothing (ERR_UNAVAILABLE). */
  #append(text: string, seq: number, hash: string): void {
    const size = Buffer.byteLength(text, 'utf8');
    let off = 0;
    try {
      if (this.maxBytes > 0 && this.#size > 0 && this.#size + size > this.maxBytes) this.#rotate();
      // The text goes to write(2) as a string (node encodes it natively): no Buffer copy of the group's
      // lines, which is past the 4 KiB pool and allocated alone. Only a short write takes the copy.
      off = writeSync(this.#fd, text, null, 'utf8');
      if (off < size) {
        const bytes = Buffer.from(text, 'utf8');
        while (off < size) off += writeSync(this.#fd, bytes, off, size - off);
      }
      if (this.fsync) fdatasyncSync(this.#fd);
    } catch (e) {
      // A partial write (disk full, I/O error) must not leave a torn line that later
      // lines would follow: cut the file back to the last complete line, then fail.
      if (off > 0) {
        try {
          ftruncateSync(this.#fd, this.#size);
        } catch {
          /* the verifier will report the torn tail */
        }
      }
      throw new UnavailableError(`audit log write failed: ${(e as Error).message}`, { cause: e });
    }
    this.#size += size;
    this.#seq = seq;
    this.#hash = hash;
  }

  #isoMs = -1;
  #isoText = '';
  /** ISO time of now, formatted once per millisecond. */
  #iso(): string {
    const ms = this.#now();
    if (ms !== this.#isoMs) {
      this.#isoMs = ms;
      this.#isoText = new Date(ms).toISOString();
    }
    return this.#isoText;
  }

  /** The log as a decision sink function: `sink(event)`. */
  readonly sink = (event: AuditEvent): void => {
    this.write(event);
  };

  /**
   * Renames the active file and opens a new one. The old descriptor is closed
   * only once both steps succeeded: after a failure the log keeps writing to
   * (and later closes) a descriptor it still owns, never a number the process
   * may have reused for another file.
   */
  #rotate(): void {
    const rotated = `${this.path}.${this.#nextRotation}`;
    renameSync(this.path, rotated); // the open descriptor now names the rotated file
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o640);
    } catch (e) {
      try {
        renameSync(rotated, this.path);
      } catch {
        /* the verifier follows the chain across files either way */
      }
      throw e;
    }
    this.#nextRotation++;
    closeSync(this.#fd);
    this.#fd = fd;
    this.#size = 0;
    if (this.maxFiles > 0) {
      const rotated = rotatedFiles(this.path);
      for (const r of rotated.slice(0, Math.max(0, rotated.length - this.maxFiles))) {
        try {
          unlinkSync(r.file);
        } catch {
          /* already gone */
        }
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    closeSync(this.#fd);
  }
}
