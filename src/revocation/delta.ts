/**
 * Signed revocation deltas (docs/spec.md §10.10): what changed from version
 * `from` to version `version` of one authority's registry, so a verifier that
 * holds `from` reaches `version` without a whole snapshot.
 *
 *   text     = "cfd1." || base64url(envelope)
 *   envelope = CBOR [kid: bstr(8), payload: bstr, signature: bstr(64)]
 *   signed   = "capframe-v1-revocation-delta" 0x00 || kid || payload
 *   payload  = CBOR map {1: from, 2: version, 3: iat, 4: ids, 5: subjects, 6: cutoffs}
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { label } from '../crypto/hash.ts';
import { kidToString, KID_BYTES, type PrivateKey } from '../crypto/keys.ts';
import { InvalidArgumentError, MalformedError, NotYetValidError, TooLargeError } from '../errors.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from '../token/cbor.ts';
import { decodeTextForm } from '../token/token.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import type { Keyring } from '../verify/keyring.ts';
import { compareBytes, openEnvelope, readRevokedLists, signEnvelope, signEnvelopeWith, sortIds } from './snapshot.ts';
import type { Signer } from '../crypto/signer.ts';

export const DELTA_PREFIX = 'cfd1.';
export const DELTA_LABEL = label('capframe-v1-revocation-delta');
/** Largest delta accepted (binary envelope): 64 Ki ids and change. */
export const MAX_DELTA_BYTES = 2 * 1024 * 1024;

const K = { from: 1, version: 2, iat: 3, ids: 4, subjects: 5, cutoffs: 6 } as const;

/** What changed between two versions. */
export interface DeltaContent {
  /** Version the delta applies to. */
  readonly from: number;
  /** Version it produces (from < version; equal: a freshness refresh with nothing added). */
  readonly version: number;
  /** When the authority signed it (unix seconds). */
  readonly iat: number;
  /** Block ids revoked since `from`: n x 16 bytes, strictly ascending. */
  readonly ids: Uint8Array;
  /** Subjects revoked since `from`, strictly ascending by UTF-8 bytes. */
  readonly subjects: readonly string[];
  /** Key cut-offs set or raised since `from` (the new value), ascending by kid. */
  readonly cutoffs: readonly { readonly kid: Uint8Array; readonly before: number }[];
}

export interface ParsedDelta extends DeltaContent {
  /** Key id (base64url) of the signing authority key. */
  readonly kid: string;
}

export interface SignedDelta {
  readonly from: number;
  readonly version: number;
  readonly iat: number;
  readonly bytes: Uint8Array;
  /** `cfd1.` text form. */
  readonly text: string;
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function checkUint(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`delta ${what} must be a non-negative integer`);
}

type DeltaInput = Omit<DeltaContent, 'ids'> & { ids: Uint8Array | Iterable<Uint8Array> };

/** Encodes and signs a delta. `ids` may be unsorted; subjects and cut-offs are sorted here. */
export function buildDelta(c: DeltaInput, key: PrivateKey, backend: Ed25519Backend = defaultBackend()): SignedDelta {
  const payload = deltaPayload(c);
  return deltaFrom(signEnvelope(DELTA_LABEL, payload, key, backend), c);
}

/** buildDelta through a Signer (HSM, KMS, WebCrypto key). */
export async function buildDeltaWith(c: DeltaInput, signer: Signer): Promise<SignedDelta> {
  const payload = deltaPayload(c);
  return deltaFrom(await signEnvelopeWith(DELTA_LABEL, payload, signer), c);
}

/** The signed form of a delta from its envelope. */
export function deltaFrom(bytes: Uint8Array, c: { from: number; version: number; iat: number }): SignedDelta {
  return Object.freeze({ from: c.from, version: c.version, iat: c.iat, bytes, text: DELTA_PREFIX + encodeBase64url(bytes) });
}

/** The payload bytes of a delta, before signing (ERR_INVALID_ARGUMENT for an unusable one). */
export function deltaPayload(c: DeltaInput): Uint8Array {
  checkUint(c.from, 'from');
  checkUint(c.version, 'version');
  checkUint(c.iat, 'iat');
  if (c.version < c.from) throw new InvalidArgumentError('a delta goes forward: version >= from');
  const ids = c.ids instanceof Uint8Array ? c.ids : sortIds(c.ids);
  const subjects = [...new Set(c.subjects)].sort(utf8Compare);
  const cutoffs = [...c.cutoffs].sort((x, y) => compareBytes(x.kid, 0, y.kid, 0, KID_BYTES));
  if (c.version === c.from && (ids.length > 0 || subjects.length > 0 || cutoffs.length > 0)) {
    throw new InvalidArgumentError('a delta that keeps the version (a refresh) adds nothing');
  }
  return encode(
    new Map<number, CborValue>([
      [K.from, c.from],
      [K.version, c.version],
      [K.iat, c.iat],
      [K.ids, ids],
      [K.subjects, subjects],
      [K.cutoffs, cutoffs.map((x) => [x.kid, x.before])],
    ]) as CborMap,
  );
}

function fail(msg: string): never {
  throw new MalformedError(`revocation delta: ${msg}`);
}

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not an unsigned integer`);
  return v;
}

export interface ParseDeltaOptions {
  backend?: Ed25519Backend;
  now?: number;
  skew?: number;
}

/**
 * Verifies and decodes a delta: size and text form, envelope, trusted key
 * (ERR_UNKNOWN_KEY), signature (ERR_SIGNATURE_INVALID) before the payload is
 * decoded, then the payload strictly (ERR_MALFORMED) and iat not in the
 * future (ERR_NOT_YET_VALID). Whether it applies is the holder's decision.
 */
export function parseDelta(input: string | Uint8Array, trusted: Keyring, opts: ParseDeltaOptions = {}): ParsedDelta {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) {
    if (input.length > MAX_DELTA_BYTES) throw new TooLargeError(`revocation delta is larger than ${MAX_DELTA_BYTES} bytes`);
    bytes = input;
  } else {
    bytes = decodeTextForm(input, DELTA_PREFIX, MAX_DELTA_BYTES, 'revocation delta');
  }
  if (bytes.length < 78 || bytes[0] !== 0x83 || bytes[1] !== 0x48) fail('envelope is not [kid: bstr(8), payload: bstr, signature: bstr(64)]');
  const { kid, payload } = openEnvelope(bytes, DELTA_LABEL, trusted, opts.backend ?? defaultBackend(), 'revocation delta', fail);

  const m = decodeStrict(payload);
  if (!(m instanceof Map) || m.size !== 6) fail('payload is not a map of 6 entries');
  for (const k of Object.values(K)) if (!m.has(k)) fail(`payload has no key ${k}`);
  const from = uint(m.get(K.from), 'from');
  const version = uint(m.get(K.version), 'version');
  const iat = uint(m.get(K.iat), 'iat');
  if (version < from) fail('version is lower than from');
  if (opts.now !== undefined && iat > opts.now + (opts.skew ?? 30)) {
    throw new NotYetValidError(`revocation delta is signed in the future (${new Date(iat * 1000).toISOString()})`);
  }
  const { ids, subjects, cutoffs } = readRevokedLists(m.get(K.ids), m.get(K.subjects), m.get(K.cutoffs), fail);
  if (version === from && (ids.length > 0 || subjects.length > 0 || cutoffs.length > 0)) fail('a refresh (version = from) adds nothing');
  return Object.freeze({ kid: kidToString(kid), from, version, iat, ids, subjects, cutoffs });
}
