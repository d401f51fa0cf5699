/**
 * The signed bloom-only compact form of an authority's revocations
 * (docs/spec.md §10.9), for verifiers that cannot hold the exact id list: a
 * filter over the revoked block ids (~120 KB for 100,000 ids at 1 %) plus the
 * exact subject and key cut-off lists, which are small.
 *
 *   text     = "cfrb1." || base64url(envelope)
 *   envelope = CBOR [kid: bstr(8), payload: bstr, signature: bstr(64)]
 *   signed   = "capframe-v1-revocation-bloom" 0x00 || kid || payload
 *   payload  = CBOR map {1: version, 2: iat, 3: count, 4: bits, 5: hashes, 6: filter, 7: subjects, 8: cutoffs}
 *
 * Index i of id X: d = SHA-256("capframe-v1-revocation-bloom-index" 0x00 || X),
 * h1 = uint32be(d[0..4]), h2 = uint32be(d[4..8]) | 1, index = (h1 + i * h2) mod bits.
 * Defined here rather than taken from a bloom filter package so that another
 * language can compute the same bits.
 */
import { hash } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { label } from '../crypto/hash.ts';
import { kidToString, KID_BYTES, type PrivateKey } from '../crypto/keys.ts';
import { InvalidArgumentError, MalformedError, NotYetValidError, TooLargeError } from '../errors.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from '../token/cbor.ts';
import { decodeTextForm } from '../token/token.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import type { Keyring } from '../verify/keyring.ts';
import { checkEnvelopeLayout, compareBytes, ID_BYTES, openEnvelope, readRevokedLists, signEnvelope } from './snapshot.ts';

export const BLOOM_PREFIX = 'cfrb1.';
export const BLOOM_LABEL = label('capframe-v1-revocation-bloom');
export const BLOOM_INDEX_LABEL = label('capframe-v1-revocation-bloom-index');
/** Largest compact form accepted (binary envelope): ~14 million ids at 1 %. */
export const MAX_BLOOM_BYTES = 16 * 1024 * 1024;
/** False-positive rate the authority builds for (each hit is confirmed with the service). */
export const BLOOM_FALSE_POSITIVE_RATE = 0.01;
/** Bounds a verifier accepts: bits a multiple of 8 from 64, hashes 1..32. */
export const MIN_BLOOM_BITS = 64;
export const MAX_BLOOM_HASHES = 32;

const K = { version: 1, iat: 2, count: 3, bits: 4, hashes: 5, filter: 6, subjects: 7, cutoffs: 8 } as const;

/** Filter size for `n` ids at rate `p`: bits = 8 * ceil(ceil(-n ln p / ln(2)^2) / 8), at least 64; hashes = round(bits / n * ln 2) in 1..32. */
export function bloomSize(n: number, p = BLOOM_FALSE_POSITIVE_RATE): { bits: number; hashes: number } {
  const raw = Math.ceil((-Math.max(n, 1) * Math.log(p)) / (Math.LN2 * Math.LN2));
  const bits = Math.max(MIN_BLOOM_BITS, Math.ceil(raw / 8) * 8);
  const hashes = n === 0 ? 1 : Math.min(MAX_BLOOM_HASHES, Math.max(1, Math.round((bits / n) * Math.LN2)));
  return { bits, hashes };
}

// One buffer reused for the hash input: label || id.
const input = Buffer.alloc(BLOOM_INDEX_LABEL.length + ID_BYTES);
input.set(BLOOM_INDEX_LABEL);
const ID_AT = BLOOM_INDEX_LABEL.length;

/** h1 and h2 of a 16-byte id (spec §10.9). */
export function bloomHashes(id: Uint8Array, at = 0): [number, number] {
  for (let i = 0; i < ID_BYTES; i++) input[ID_AT + i] = id[at + i]!;
  const d = hash('sha256', input, 'buffer');
  return [((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0, ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]! | 1) >>> 0];
}

/** The bit indices of an id in a filter of `bits` bits and `hashes` hashes. */
export function bloomIndices(id: Uint8Array, bits: number, hashes: number): number[] {
  const [h1, h2] = bloomHashes(id);
  const out: number[] = [];
  // h1 + i*h2 < 2^37: exact in a double.
  for (let i = 0; i < hashes; i++) out.push((h1 + i * h2) % bits);
  return out;
}

/** A filter with its parameters. */
export interface BloomFilterBits {
  readonly bits: number;
  readonly hashes: number;
  /** bits / 8 bytes: bit j at byte j >> 3, mask 1 << (j & 7). */
  readonly filter: Uint8Array;
}

export function bloomAdd(f: BloomFilterBits, id: Uint8Array, at = 0): void {
  const [h1, h2] = bloomHashes(id, at);
  for (let i = 0; i < f.hashes; i++) {
    const j = (h1 + i * h2) % f.bits;
    f.filter[j >>> 3]! |= 1 << (j & 7);
  }
}

export function bloomHas(f: BloomFilterBits, id: Uint8Array): boolean {
  return testBits(f, bloomHashes(id));
}

/** bloomHas for an id given as 32 hex digits (as Chain.ids holds them): no intermediate buffer. */
export function bloomHasHex(f: BloomFilterBits, idHex: string): boolean {
  if (idHex.length !== 2 * ID_BYTES || input.write(idHex, ID_AT, ID_BYTES, 'hex') !== ID_BYTES) return false;
  const d = hash('sha256', input, 'buffer');
  return testBits(f, [((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0, ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]! | 1) >>> 0]);
}

function testBits(f: BloomFilterBits, [h1, h2]: [number, number]): boolean {
  for (let i = 0; i < f.hashes; i++) {
    const j = (h1 + i * h2) % f.bits;
    if ((f.filter[j >>> 3]! & (1 << (j & 7))) === 0) return false;
  }
  return true;
}

/** A filled filter for strictly ascending (or any) n x 16 byte ids, sized by bloomSize. */
export function buildBloomFilter(ids: Uint8Array, p = BLOOM_FALSE_POSITIVE_RATE): BloomFilterBits {
  const n = ids.length / ID_BYTES;
  const { bits, hashes } = bloomSize(n, p);
  const f = { bits, hashes, filter: new Uint8Array(bits / 8) };
  for (let o = 0; o < ids.length; o += ID_BYTES) bloomAdd(f, ids, o);
  return f;
}

export interface BloomFormContent {
  readonly version: number;
  readonly iat: number;
  /** Number of ids the filter was filled with (informative: the false-positive rate follows from it). */
  readonly count: number;
  readonly bloom: BloomFilterBits;
  readonly subjects: readonly string[];
  readonly cutoffs: readonly { readonly kid: Uint8Array; readonly before: number }[];
}

export interface ParsedBloomForm extends BloomFormContent {
  /** Key id (base64url) of the signing authority key. */
  readonly kid: string;
}

export interface SignedBloomForm {
  readonly version: number;
  readonly iat: number;
  readonly count: number;
  readonly bytes: Uint8Array;
  /** `cfrb1.` text form. */
  readonly text: string;
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Encodes and signs a compact form. Subjects and cut-offs are sorted here. */
export function buildBloomForm(c: BloomFormContent, key: PrivateKey, backend: Ed25519Backend = defaultBackend()): SignedBloomForm {
  return bloomFormFrom(signEnvelope(BLOOM_LABEL, bloomFormPayload(c), key, backend), c);
}

/** The payload of a compact form (what is signed under BLOOM_LABEL), checked; subjects and cut-offs sorted. */
export function bloomFormPayload(c: BloomFormContent): Uint8Array {
  for (const [v, what] of [
    [c.version, 'version'],
    [c.iat, 'iat'],
    [c.count, 'count'],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`bloom form ${what} must be a non-negative integer`);
  }
  checkParams(c.bloom.bits, c.bloom.hashes, c.bloom.filter, (m) => {
    throw new InvalidArgumentError(`bloom form: ${m}`);
  });
  const subjects = [...new Set(c.subjects)].sort(utf8Compare);
  const cutoffs = [...c.cutoffs].sort((x, y) => compareBytes(x.kid, 0, y.kid, 0, KID_BYTES));
  return encode(
    new Map<number, CborValue>([
      [K.version, c.version],
      [K.iat, c.iat],
      [K.count, c.count],
      [K.bits, c.bloom.bits],
      [K.hashes, c.bloom.hashes],
      [K.filter, c.bloom.filter],
      [K.subjects, subjects],
      [K.cutoffs, cutoffs.map((x) => [x.kid, x.before])],
    ]) as CborMap,
  );
}

/** The signed form of `bytes`, a signed envelope of bloomFormPayload(c). */
export function bloomFormFrom(bytes: Uint8Array, c: Pick<BloomFormContent, 'version' | 'iat' | 'count'>): SignedBloomForm {
  return Object.freeze({ version: c.version, iat: c.iat, count: c.count, bytes, text: BLOOM_PREFIX + encodeBase64url(bytes) });
}

function fail(msg: string): never {
  throw new MalformedError(`revocation bloom form: ${msg}`);
}

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not an unsigned integer`);
  return v;
}

function checkParams(bits: number, hashes: number, filter: unknown, bad: (m: string) => never): void {
  if (bits < MIN_BLOOM_BITS || bits % 8 !== 0) bad(`bits must be a multiple of 8, at least ${MIN_BLOOM_BITS}`);
  if (!Number.isSafeInteger(hashes) || hashes < 1 || hashes > MAX_BLOOM_HASHES) bad(`hashes must be 1..${MAX_BLOOM_HASHES}`);
  if (!(filter instanceof Uint8Array) || filter.length !== bits / 8) bad('filter is not bits / 8 bytes');
}

export interface ParseBloomOptions {
  backend?: Ed25519Backend;
  now?: number;
  skew?: number;
}

/**
 * Verifies and decodes a compact form: size and text form (ERR_TOO_LARGE,
 * ERR_MALFORMED), envelope layout, trusted key (ERR_UNKNOWN_KEY), signature
 * (ERR_SIGNATURE_INVALID) before the payload is decoded, the payload strictly
 * (ERR_MALFORMED), iat not in the future (ERR_NOT_YET_VALID). Rollback is the
 * holder's check (BloomRevocationState).
 */
export function parseBloomForm(input: string | Uint8Array, trusted: Keyring, opts: ParseBloomOptions = {}): ParsedBloomForm {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) {
    if (input.length > MAX_BLOOM_BYTES) throw new TooLargeError(`revocation bloom form is larger than ${MAX_BLOOM_BYTES} bytes`);
    bytes = input;
  } else {
    bytes = decodeTextForm(input, BLOOM_PREFIX, MAX_BLOOM_BYTES, 'revocation bloom form');
  }
  checkEnvelopeLayout(bytes, fail);
  const { kid, payload } = openEnvelope(bytes, BLOOM_LABEL, trusted, opts.backend ?? defaultBackend(), 'revocation bloom form', fail);
  const m = decodeStrict(payload);
  if (!(m instanceof Map) || m.size !== 8) fail('payload is not a map of 8 entries');
  for (const k of Object.values(K)) if (!m.has(k)) fail(`payload has no key ${k}`);
  const version = uint(m.get(K.version), 'version');
  const iat = uint(m.get(K.iat), 'iat');
  if (opts.now !== undefined && iat > opts.now + (opts.skew ?? 30)) {
    throw new NotYetValidError(`revocation bloom form is signed in the future (${new Date(iat * 1000).toISOString()})`);
  }
  const count = uint(m.get(K.count), 'count');
  const bits = uint(m.get(K.bits), 'bits');
  const hashes = uint(m.get(K.hashes), 'hashes');
  const filter = m.get(K.filter);
  checkParams(bits, hashes, filter, fail);
  const { subjects, cutoffs } = readRevokedLists(new Uint8Array(0), m.get(K.subjects), m.get(K.cutoffs), fail);
  return Object.freeze({ kid: kidToString(kid), version, iat, count, bloom: { bits, hashes, filter: filter as Uint8Array }, subjects, cutoffs });
}
