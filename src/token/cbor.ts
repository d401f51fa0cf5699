/**
 * The CBOR subset of the wire format (docs/spec.md §2) with RFC 8949 §4.2.1
 * core deterministic encoding. Encoding is done here by hand because cbor-x
 * has no canonical mode (it encodes large integers as floats and keeps map
 * keys in insertion order). Decoding uses cbor-x and is made strict by
 * re-encoding the result and comparing bytes: duplicate keys, non-minimal
 * integers, indefinite lengths, unsorted keys, floats, tags and simple values
 * other than false/true/null all fail that comparison or the type check.
 */
import { Decoder } from 'cbor-x';
import { MalformedError } from '../errors.ts';

export type CborValue = number | string | Uint8Array | boolean | null | CborValue[] | CborMap;
export type CborMap = Map<number | string, CborValue>;

/**
 * Output buffer. A Buffer (not a plain Uint8Array) so text is written in place
 * with Buffer#write, without an intermediate TextEncoder allocation; encode()
 * returns a plain Uint8Array copy. Lone UTF-16 surrogates become U+FFFD, as
 * with TextEncoder.
 */
class Writer {
  buf: Buffer;
  len = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  text(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.head(3, n);
    this.ensure(n);
    this.len += this.buf.write(s, this.len, n, 'utf8');
  }
  head(major: number, n: number): void {
    const m = major << 5;
    if (n < 24) this.byte(m | n);
    else if (n < 0x100) {
      this.byte(m | 24);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(m | 25);
      this.byte(n >>> 8);
      this.byte(n & 0xff);
    } else if (n < 0x100000000) {
      this.byte(m | 26);
      this.byte((n >>> 24) & 0xff);
      this.byte((n >>> 16) & 0xff);
      this.byte((n >>> 8) & 0xff);
      this.byte(n & 0xff);
    } else {
      this.byte(m | 27);
      const hi = Math.floor(n / 0x100000000);
      const lo = n >>> 0;
      this.byte((hi >>> 24) & 0xff);
      this.byte((hi >>> 16) & 0xff);
      this.byte((hi >>> 8) & 0xff);
      this.byte(hi & 0xff);
      this.byte((lo >>> 24) & 0xff);
      this.byte((lo >>> 16) & 0xff);
      this.byte((lo >>> 8) & 0xff);
      this.byte(lo & 0xff);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Encodings of the integer map keys 0..23 (one byte each): the keys of every capframe payload. */
const SMALL_KEYS: readonly Uint8Array[] = Array.from({ length: 24 }, (_, i) => Uint8Array.of(i));

function keyBytes(k: unknown): Uint8Array {
  if (typeof k === 'number' && Number.isInteger(k) && k >= 0 && k < 24) return SMALL_KEYS[k]!;
  if (typeof k !== 'number' && typeof k !== 'string') throw new MalformedError('map keys are integers or text');
  return encode(k);
}

function write(w: Writer, v: CborValue, depth: number): void {
  if (depth > 32) throw new MalformedError('CBOR nesting deeper than 32');
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new MalformedError('only integers in the safe range are allowed');
    if (v >= 0) w.head(0, v);
    else w.head(1, -1 - v);
  } else if (typeof v === 'string') {
    w.text(v);
  } else if (v instanceof Uint8Array) {
    w.head(2, v.length);
    w.bytes(v);
  } else if (v === false) w.byte(0xf4);
  else if (v === true) w.byte(0xf5);
  else if (v === null) w.byte(0xf6);
  else if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) write(w, item, depth + 1);
  } else if (v instanceof Map) {
    const entries: [Uint8Array, CborValue][] = [];
    for (const [k, val] of v) entries.push([keyBytes(k), val]);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    w.head(5, entries.length);
    for (const [k, val] of entries) {
      w.bytes(k);
      write(w, val, depth + 1);
    }
  } else {
    throw new MalformedError(`value of type ${typeof v} is not allowed in capframe CBOR`);
  }
}

/** Reused by encode() (synchronous, so one at a time; a nested call gets its own). */
const shared = new Writer(4096);
let sharedBusy = false;

/** Deterministic encoding (RFC 8949 §4.2.1) of a value of the capframe subset. */
export function encode(v: CborValue): Uint8Array {
  return run(v, null) as Uint8Array;
}

/** Does `v` encode to exactly `expect`? (encode() without copying the result out.) */
function encodesTo(v: CborValue, expect: Uint8Array): boolean {
  return run(v, expect) as boolean;
}

function run(v: CborValue, expect: Uint8Array | null): Uint8Array | boolean {
  const useShared = !sharedBusy;
  const w = useShared ? shared : new Writer(64);
  if (useShared) {
    sharedBusy = true;
    w.len = 0;
  }
  try {
    write(w, v, 0);
    if (expect) return w.len === expect.length && compareBytes(w.buf.subarray(0, w.len), expect) === 0;
    const out = new Uint8Array(w.len);
    out.set(w.buf.subarray(0, w.len));
    return out;
  } finally {
    if (useShared) {
      sharedBusy = false;
      if (w.buf.length > 64 * 1024) w.buf = Buffer.allocUnsafe(4096); // do not keep a huge buffer
    }
  }
}

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

/**
 * Strict decode: exactly one data item, in deterministic encoding, of the
 * capframe subset. Anything else is a MalformedError; this never throws
 * anything else and never returns a value for non-canonical bytes.
 */
export function decodeStrict(bytes: Uint8Array): CborValue {
  if (bytes.length === 0) throw new MalformedError('empty CBOR input');
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (e) {
    throw new MalformedError(`invalid CBOR: ${e instanceof Error ? e.message : 'decode failed'}`);
  }
  let same: boolean;
  let norm: CborValue;
  try {
    norm = normalize(value, 0);
    same = encodesTo(norm, bytes);
  } catch (e) {
    if (e instanceof MalformedError) throw e;
    throw new MalformedError('CBOR value outside the capframe subset');
  }
  if (!same) {
    throw new MalformedError('CBOR is not in deterministic encoding (RFC 8949 §4.2.1)');
  }
  return norm;
}

/** Checks the decoded value is of the subset; converts Buffer to plain Uint8Array views. */
function normalize(v: unknown, depth: number): CborValue {
  if (depth > 32) throw new MalformedError('CBOR nesting deeper than 32');
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  // cbor-x returns integers beyond 32 bits as bigint; the subset allows safe integers.
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new MalformedError('integer outside the safe range');
    return Number(v);
  }
  // Copy: decoded byte strings must not alias the input buffer, which the caller may reuse.
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = normalize(v[i], depth + 1);
    return v as CborValue[];
  }
  if (v instanceof Map) {
    for (const [k, val] of v) v.set(k, normalize(val, depth + 1));
    return v as CborMap;
  }
  throw new MalformedError(`CBOR item of type ${v === undefined ? 'undefined' : ((v as object).constructor?.name ?? typeof v)} is not allowed`);
}

/** Bytes of a shortest-form CBOR head for an argument below 2^32. */
export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}
