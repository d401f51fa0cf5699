/**
 * The signed revocation snapshot (docs/spec.md §10): wire format, signing,
 * strict parsing and verification, and the in-memory form a verifier checks
 * chains against (bloom filter first, then an exact confirmation).
 *
 *   text    = "cfr1." || base64url(envelope)
 *   envelope = CBOR [kid: bstr(8), payload: bstr, signature: bstr(64)]
 *   signed  = "capframe-v1-revocations" 0x00 || kid || payload
 *   payload = CBOR map {1: version, 2: iat, 3: ids, 4: subjects, 5: cutoffs, 6: bloom}
 */
import bf from 'bloom-filters';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { label } from '../crypto/hash.ts';
import { kidToString, KID_BYTES, type PrivateKey } from '../crypto/keys.ts';
import { MalformedError, NotYetValidError, SignatureInvalidError, TooLargeError, UnknownKeyError, InvalidArgumentError } from '../errors.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from '../token/cbor.ts';
import { decodeTextForm } from '../token/token.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import type { Keyring } from '../verify/keyring.ts';
import type { Signer } from '../crypto/signer.ts';

type BloomFilter = InstanceType<typeof bf.BloomFilter>;

export const SNAPSHOT_PREFIX = 'cfr1.';
export const SNAPSHOT_LABEL = label('capframe-v1-revocations');
export const ID_BYTES = 16;
/** Largest snapshot accepted (binary envelope). 4 Mi ids fit in 64 MiB plus their bloom filter. */
export const MAX_SNAPSHOT_BYTES = 96 * 1024 * 1024;
/** Bloom false-positive rate used when building (every hit is confirmed exactly anyway). */
export const DEFAULT_BLOOM_ERROR_RATE = 0.01;
/** Seed of the bloom filter hash (bloom-filters' default). */
export const BLOOM_SEED = 0x1234567890;

const K = { version: 1, iat: 2, ids: 3, subjects: 4, cutoffs: 5, bloom: 6 } as const;

/** Everything revoked, as a verifier needs it. */
export interface SnapshotContent {
  /** Registry change counter: higher is newer. */
  readonly version: number;
  /** When the authority signed this snapshot (unix seconds): the freshness proof. */
  readonly iat: number;
  /** Revoked block ids: n x 16 bytes, strictly ascending. */
  readonly ids: Uint8Array;
  /** Revoked subjects, strictly ascending (UTF-8 byte order). */
  readonly subjects: readonly string[];
  /** Key cut-offs: tokens of `kid` whose root iat < `before` are revoked. Ascending by kid. */
  readonly cutoffs: readonly { readonly kid: Uint8Array; readonly before: number }[];
}

export interface BloomParams {
  /** Filter size in bits. */
  readonly bits: number;
  readonly hashes: number;
  readonly seed: number;
  /** ceil(bits / 8) bytes, bit i at byte i>>3, mask 1 << (i & 7). */
  readonly filter: Uint8Array;
}

export interface ParsedSnapshot extends SnapshotContent {
  /** Key id (base64url) of the signing authority key. */
  readonly kid: string;
  readonly bloom: BloomParams;
}

// ---------------------------------------------------------------- bloom

/** A bloom filter sized for `capacity` ids holding `ids` (hex strings). */
export function newBloom(capacity: number, errorRate = DEFAULT_BLOOM_ERROR_RATE): BloomFilter {
  const f = bf.BloomFilter.create(Math.max(capacity, 64), errorRate);
  f.seed = BLOOM_SEED;
  return f;
}

export function bloomParams(f: BloomFilter): BloomParams {
  const json = f.saveAsJSON() as { _size: number; _nbHashes: number; _seed: number; _filter: { content: string } };
  const buf = Buffer.from(json._filter.content, 'base64');
  return { bits: json._size, hashes: json._nbHashes, seed: json._seed, filter: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}

export function bloomFromParams(p: BloomParams): BloomFilter {
  return bf.BloomFilter.fromJSON({
    type: 'BloomFilter',
    _size: p.bits,
    _nbHashes: p.hashes,
    _seed: p.seed,
    _filter: { size: p.bits, content: Buffer.from(p.filter.buffer, p.filter.byteOffset, p.filter.byteLength).toString('base64') },
  } as never) as BloomFilter;
}

// ---------------------------------------------------------------- ids

export function compareBytes(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Binary search of a 16-byte id in a strictly ascending n x 16 byte list. */
export function containsId(sorted: Uint8Array, id: Uint8Array): boolean {
  let lo = 0;
  let hi = sorted.length / ID_BYTES - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(sorted, mid * ID_BYTES, id, 0, ID_BYTES);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Sorts and de-duplicates 16-byte ids into one buffer. */
export function sortIds(ids: Iterable<Uint8Array>): Uint8Array {
  const list = [...ids].map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  for (const b of list) if (b.length !== ID_BYTES) throw new InvalidArgumentError('a revoked id is 16 bytes');
  list.sort(Buffer.compare);
  const out = new Uint8Array(list.length * ID_BYTES);
  let n = 0;
  for (let i = 0; i < list.length; i++) {
    if (i > 0 && list[i]!.equals(list[i - 1]!)) continue;
    out.set(list[i]!, n * ID_BYTES);
    n++;
  }
  return out.slice(0, n * ID_BYTES);
}

/** Merges strictly ascending id lists (duplicates dropped). */
export function mergeIds(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  let i = 0,
    j = 0,
    o = 0;
  while (i < a.length || j < b.length) {
    let take: Uint8Array, at: number;
    if (j >= b.length) {
      take = a;
      at = i;
      i += ID_BYTES;
    } else if (i >= a.length) {
      take = b;
      at = j;
      j += ID_BYTES;
    } else {
      const c = compareBytes(a, i, b, j, ID_BYTES);
      if (c === 0) {
        take = a;
        at = i;
        i += ID_BYTES;
        j += ID_BYTES;
      } else if (c < 0) {
        take = a;
        at = i;
        i += ID_BYTES;
      } else {
        take = b;
        at = j;
        j += ID_BYTES;
      }
    }
    out.set(take.subarray(at, at + ID_BYTES), o);
    o += ID_BYTES;
  }
  return o === out.length ? out : out.slice(0, o);
}

export function idToHex(sorted: Uint8Array, index: number): string {
  return Buffer.from(sorted.buffer, sorted.byteOffset + index * ID_BYTES, ID_BYTES).toString('hex');
}

const HEX_ID = /^[0-9a-f]{32}$/;
/** A block id as the CLI and the registry take it: 32 lowercase hex digits. */
export function parseIdHex(text: string): Uint8Array {
  const t = typeof text === 'string' ? text.trim().toLowerCase() : '';
  if (!HEX_ID.test(t)) throw new InvalidArgumentError('a block id is 32 hex digits (16 bytes)');
  return new Uint8Array(Buffer.from(t, 'hex'));
}

// ---------------------------------------------------------------- encode / sign

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Payload bytes (deterministic CBOR). Subjects and cut-offs are sorted here. */
export function encodeSnapshotPayload(c: SnapshotContent, bloom: BloomParams): Uint8Array {
  const subjects = [...new Set(c.subjects)].sort(utf8Compare);
  const cutoffs = [...c.cutoffs].sort((x, y) => compareBytes(x.kid, 0, y.kid, 0, KID_BYTES));
  const m: CborMap = new Map<number, CborValue>([
    [K.version, c.version],
    [K.iat, c.iat],
    [K.ids, c.ids],
    [K.subjects, subjects],
    [K.cutoffs, cutoffs.map((x) => [x.kid, x.before])],
    [K.bloom, [bloom.bits, bloom.hashes, bloom.seed, bloom.filter]],
  ]);
  return encode(m);
}

export interface SignedSnapshot {
  readonly version: number;
  readonly iat: number;
  readonly count: number;
  readonly bytes: Uint8Array;
  /** `cfr1.` text form. */
  readonly text: string;
}

/** Signs a payload with the authority key; returns the envelope and its text form. */
export function signSnapshot(
  payload: Uint8Array,
  key: PrivateKey,
  meta: { version: number; iat: number; count: number },
  backend: Ed25519Backend = defaultBackend(),
): SignedSnapshot {
  return snapshotFrom(signEnvelope(SNAPSHOT_LABEL, payload, key, backend), meta);
}

/** The signed form of a snapshot from its envelope. */
export function snapshotFrom(bytes: Uint8Array, meta: { version: number; iat: number; count: number }): SignedSnapshot {
  return Object.freeze({ ...meta, bytes, text: SNAPSHOT_PREFIX + encodeBase64url(bytes) });
}

type SnapshotInput = Omit<SnapshotContent, 'ids'> & { ids: Uint8Array | Iterable<Uint8Array> };
type SnapshotBuildOptions = { bloom?: BloomFilter; errorRate?: number };

/**
 * Builds and signs a snapshot from scratch (bloom filter included). `ids` may
 * be unsorted; `bloom` reuses an already filled filter (incremental builds).
 */
export function buildSnapshot(content: SnapshotInput, key: PrivateKey, opts: SnapshotBuildOptions & { backend?: Ed25519Backend } = {}): SignedSnapshot {
  const { payload, meta } = snapshotPayload(content, opts);
  return signSnapshot(payload, key, meta, opts.backend);
}

/** buildSnapshot through a Signer (HSM, KMS, WebCrypto key): the same bytes the key would sign. */
export async function buildSnapshotWith(content: SnapshotInput, signer: Signer, opts: SnapshotBuildOptions = {}): Promise<SignedSnapshot> {
  const { payload, meta } = snapshotPayload(content, opts);
  return snapshotFrom(await signEnvelopeWith(SNAPSHOT_LABEL, payload, signer), meta);
}

/** The payload of a snapshot and what its signed form reports, before signing. */
export function snapshotPayload(
  content: SnapshotInput,
  opts: SnapshotBuildOptions = {},
): { payload: Uint8Array; meta: { version: number; iat: number; count: number } } {
  checkUint(content.version, 'version');
  checkUint(content.iat, 'iat');
  const ids = content.ids instanceof Uint8Array ? content.ids : sortIds(content.ids);
  const n = ids.length / ID_BYTES;
  let bloom = opts.bloom;
  if (!bloom) {
    bloom = newBloom(n, opts.errorRate);
    for (let i = 0; i < n; i++) bloom.add(idToHex(ids, i));
  }
  const payload = encodeSnapshotPayload({ ...content, ids }, bloomParams(bloom));
  return { payload, meta: { version: content.version, iat: content.iat, count: n } };
}

function checkUint(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`snapshot ${what} must be a non-negative integer`);
}

/** `label || kid || payload`: the bytes the signature of a revocation envelope covers (spec §10.2, §10.10). */
function envelopeMessage(label: Uint8Array, kid: Uint8Array, payload: Uint8Array): Uint8Array {
  const msg = new Uint8Array(label.length + KID_BYTES + payload.length);
  msg.set(label);
  msg.set(kid, label.length);
  msg.set(payload, label.length + KID_BYTES);
  return msg;
}

/** The CBOR envelope `[kid, payload, signature]` of a snapshot or delta, signed by `key`. */
export function signEnvelope(label: Uint8Array, payload: Uint8Array, key: PrivateKey, backend: Ed25519Backend): Uint8Array {
  return encode([key.kid, payload, backend.sign(key.seed, envelopeMessage(label, key.kid, payload))]);
}

/** signEnvelope through a Signer. A signer that answers anything but 64 bytes fails (ERR_SIGNATURE_INVALID). */
export async function signEnvelopeWith(label: Uint8Array, payload: Uint8Array, signer: Signer): Promise<Uint8Array> {
  if (!signer || typeof signer.sign !== 'function' || !(signer.kid instanceof Uint8Array) || signer.kid.length !== KID_BYTES) {
    throw new InvalidArgumentError('signing a revocation envelope needs a Signer');
  }
  const kid = Uint8Array.from(signer.kid);
  const sig = await signer.sign(envelopeMessage(label, kid, payload));
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new SignatureInvalidError('the signer returned no 64-byte Ed25519 signature');
  return encode([kid, payload, sig]);
}

/**
 * The payload of a snapshot or delta envelope `[kid: bstr(8), payload: bstr,
 * signature: bstr(64)]`, once its signature by a trusted key verifies
 * (ERR_UNKNOWN_KEY, ERR_SIGNATURE_INVALID; `fail` for a malformed envelope).
 */
export function openEnvelope(
  bytes: Uint8Array,
  label: Uint8Array,
  trusted: Keyring,
  backend: Ed25519Backend,
  what: string,
  fail: (msg: string) => never,
): { kid: Uint8Array; payload: Uint8Array } {
  const env = decodeStrict(bytes);
  if (!Array.isArray(env) || env.length !== 3) fail('envelope is not an array of 3 items');
  const [kid, payload, sig] = env as [CborValue, CborValue, CborValue];
  if (!(kid instanceof Uint8Array) || kid.length !== KID_BYTES) fail('key id is not 8 bytes');
  if (!(payload instanceof Uint8Array)) fail('payload is not a byte string');
  if (!(sig instanceof Uint8Array) || sig.length !== 64) fail('signature is not 64 bytes');
  const pub = trusted.get(kid);
  if (!pub) throw new UnknownKeyError(`${what} is signed by key ${kidToString(kid)}, which is not trusted`);
  if (!backend.verify(pub, envelopeMessage(label, kid, payload), sig)) throw new SignatureInvalidError(`${what} signature does not verify`);
  return { kid, payload };
}

/**
 * The three revoked lists of a snapshot or delta payload (spec §10.2): ids as
 * one byte string of 16-byte ids, subjects and key cut-offs, each strictly
 * ascending. `fail` throws ERR_MALFORMED naming the form being read.
 */
export function readRevokedLists(
  idsRaw: CborValue | undefined,
  subjectsRaw: CborValue | undefined,
  cutRaw: CborValue | undefined,
  fail: (msg: string) => never,
): { ids: Uint8Array; subjects: string[]; cutoffs: { kid: Uint8Array; before: number }[] } {
  const uintOf = (v: CborValue | undefined, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not an unsigned integer`);
    return v;
  };
  const ids = idsRaw;
  if (!(ids instanceof Uint8Array) || ids.length % ID_BYTES !== 0) fail('ids is not a byte string of 16-byte ids');
  for (let o = ID_BYTES; o < ids.length; o += ID_BYTES) {
    if (compareBytes(ids, o - ID_BYTES, ids, o, ID_BYTES) >= 0) fail('ids are not strictly ascending');
  }
  if (!Array.isArray(subjectsRaw)) fail('subjects is not an array');
  const subjects: string[] = [];
  for (const s of subjectsRaw) {
    if (typeof s !== 'string' || s === '') fail('a subject is not a non-empty text string');
    if (subjects.length > 0 && utf8Compare(subjects[subjects.length - 1]!, s) >= 0) fail('subjects are not strictly ascending');
    subjects.push(s);
  }
  if (!Array.isArray(cutRaw)) fail('cutoffs is not an array');
  const cutoffs: { kid: Uint8Array; before: number }[] = [];
  for (const c of cutRaw) {
    if (!Array.isArray(c) || c.length !== 2 || !(c[0] instanceof Uint8Array) || c[0].length !== KID_BYTES) fail('a cutoff is not [kid, before]');
    const entry = { kid: c[0], before: uintOf(c[1], 'cutoff time') };
    const prev = cutoffs[cutoffs.length - 1];
    if (prev && compareBytes(prev.kid, 0, entry.kid, 0, KID_BYTES) >= 0) fail('cutoffs are not strictly ascending by key id');
    cutoffs.push(entry);
  }
  return { ids, subjects, cutoffs };
}

// ---------------------------------------------------------------- parse / verify

function fail(msg: string): never {
  throw new MalformedError(`revocation snapshot: ${msg}`);
}
const failSnapshot = fail;

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not an unsigned integer`);
  return v;
}

/** `[bstr(8), bstr, bstr(64)]` and nothing else, read from the headers alone (lengths only; decodeStrict checks the rest). */
export function checkEnvelopeLayout(b: Uint8Array, fail: (msg: string) => never = failSnapshot): void {
  if (b.length < 1 + 9 + 1 + 66 || b[0] !== 0x83 || b[1] !== 0x48) fail('envelope is not [kid: bstr(8), payload: bstr, signature: bstr(64)]');
  let o = 10;
  const h = b[o]!;
  let len: number;
  if (h >= 0x40 && h <= 0x57) {
    len = h - 0x40;
    o += 1;
  } else if (h === 0x58) {
    len = b[o + 1]!;
    o += 2;
  } else if (h === 0x59) {
    len = (b[o + 1]! << 8) | b[o + 2]!;
    o += 3;
  } else if (h === 0x5a) {
    len = ((b[o + 1]! << 24) >>> 0) + (b[o + 2]! << 16) + (b[o + 3]! << 8) + b[o + 4]!;
    o += 5;
  } else fail('envelope payload is not a byte string');
  if (o + len + 66 !== b.length || b[o + len] !== 0x58 || b[o + len + 1] !== 0x40) {
    fail('envelope is not [kid: bstr(8), payload: bstr, signature: bstr(64)]');
  }
}

export interface ParseOptions {
  backend?: Ed25519Backend;
  /** Current time (unix seconds) and tolerated skew: a snapshot signed in the future is refused. */
  now?: number;
  skew?: number;
  maxBytes?: number;
}

/** Text (`cfr1.`) or binary envelope -> binary envelope. */
export function snapshotBytes(input: string | Uint8Array, maxBytes = MAX_SNAPSHOT_BYTES): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length > maxBytes) throw new TooLargeError(`revocation snapshot is larger than ${maxBytes} bytes`);
    return input;
  }
  return decodeTextForm(input, SNAPSHOT_PREFIX, maxBytes, 'revocation snapshot');
}

/**
 * Verifies and decodes a snapshot: size, envelope, trusted key
 * (ERR_UNKNOWN_KEY), signature (ERR_SIGNATURE_INVALID), then the payload
 * strictly (ERR_MALFORMED). Rollback is checked by the holder (RevocationState).
 */
export function parseSnapshot(input: string | Uint8Array, trusted: Keyring, opts: ParseOptions = {}): ParsedSnapshot {
  const bytes = snapshotBytes(input, opts.maxBytes);
  // Before any general CBOR decoding (and before the signature is known good), check the
  // envelope's fixed layout by hand: a hostile 96 MiB item (e.g. an array of 80 Mi
  // integers) would otherwise cost seconds of CPU and gigabytes of memory to reject.
  checkEnvelopeLayout(bytes);
  const { kid, payload } = openEnvelope(bytes, SNAPSHOT_LABEL, trusted, opts.backend ?? defaultBackend(), 'revocation snapshot', fail);

  const m = decodeStrict(payload);
  if (!(m instanceof Map) || m.size !== 6) fail('payload is not a map of 6 entries');
  for (const k of Object.values(K)) if (!m.has(k)) fail(`payload has no key ${k}`);
  const version = uint(m.get(K.version), 'version');
  const iat = uint(m.get(K.iat), 'iat');
  if (opts.now !== undefined && iat > opts.now + (opts.skew ?? 30)) {
    throw new NotYetValidError(`revocation snapshot is signed in the future (${new Date(iat * 1000).toISOString()})`);
  }
  const { ids, subjects, cutoffs } = readRevokedLists(m.get(K.ids), m.get(K.subjects), m.get(K.cutoffs), fail);
  const b = m.get(K.bloom);
  if (!Array.isArray(b) || b.length !== 4) fail('bloom is not [bits, hashes, seed, filter]');
  const bits = uint(b[0], 'bloom size');
  const hashes = uint(b[1], 'bloom hash count');
  const seed = uint(b[2], 'bloom seed');
  const filter = b[3];
  if (bits < 8 || hashes < 1 || hashes > 64) fail('bloom parameters are out of range');
  if (!(filter instanceof Uint8Array) || filter.length !== Math.ceil(bits / 8)) fail('bloom filter length does not match its size');
  return Object.freeze({ kid: kidToString(kid), version, iat, ids, subjects, cutoffs, bloom: { bits, hashes, seed, filter } });
}
