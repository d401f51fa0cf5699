/**
 * The token envelope and its text form (docs/spec.md §2, §8).
 *
 *   token  = CBOR array [ kid: bstr(8), root: bstr, delegation: bstr, ... ]
 *   block  = payload bytes || 64-byte Ed25519 signature
 *   text   = "cft1." base64url(token)
 *
 * Parsing a Token checks sizes and structure only; signatures and payloads
 * are checked by the verifier (src/verify/chain.ts).
 */
import { label, digest16, sha256Hex } from '../crypto/hash.ts';
import { DepthError, MalformedError, TooLargeError } from '../errors.ts';
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';
import { decodeStrict, encode } from './cbor.ts';
import { KID_BYTES } from '../crypto/keys.ts';
import { LIMITS } from './limits.ts';

export const TOKEN_PREFIX = 'cft1.';
export const SIGNATURE_BYTES = 64;

/** Domain-separation labels, each followed by a 0x00 byte when hashed or signed. */
export const LABELS = Object.freeze({
  root: label('capframe-v1-root'),
  delegation: label('capframe-v1-delegation'),
  invocation: label('capframe-v1-invocation'),
  block: label('capframe-v1-block'),
});

export interface RawBlock {
  /** payload || signature, exactly as received. */
  readonly bytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** 16-byte digest of a block payload: the parent link and, for delegation blocks, the block id. */
export function blockDigest(payload: Uint8Array): Uint8Array {
  return digest16(LABELS.block, payload);
}

export function splitBlock(bytes: Uint8Array, what: string): RawBlock {
  if (bytes.length <= SIGNATURE_BYTES) throw new MalformedError(`${what} is too short to hold a payload and a signature`);
  const cut = bytes.length - SIGNATURE_BYTES;
  return { bytes, payload: bytes.subarray(0, cut), signature: bytes.subarray(cut) };
}

/** Characters of surrounding whitespace a text form may carry beyond its size limit (spec §8). */
export const TEXT_WHITESPACE_ALLOWANCE = 64;

/** Is the UTF-16 code unit ASCII whitespace as spec §8 defines it: HT, LF, CR or SP? */
const isAsciiSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** `s` without leading and trailing HT, LF, CR and SP (nothing else: no BOM, NBSP, U+2028, VT or FF). */
export function trimAsciiWhitespace(s: string): string {
  let a = 0,
    b = s.length;
  while (a < b && isAsciiSpace(s.charCodeAt(a))) a++;
  while (b > a && isAsciiSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Checks that text is `prefix` + base64url and not larger than `maxBytes` once decoded. */
export function decodeTextForm(text: string, prefix: string, maxBytes: number, what: string): Uint8Array {
  if (typeof text !== 'string') throw new MalformedError(`${what} must be a string`);
  // The limit applies to the raw input, whitespace included, so no input is scanned beyond it.
  if (text.length > prefix.length + Math.ceil((maxBytes * 4) / 3) + TEXT_WHITESPACE_ALLOWANCE)
    throw new TooLargeError(`${what} is larger than ${maxBytes} bytes`);
  const t = trimAsciiWhitespace(text);
  if (t.length > prefix.length + Math.ceil((maxBytes * 4) / 3)) throw new TooLargeError(`${what} is larger than ${maxBytes} bytes`);
  if (!t.startsWith(prefix)) throw new MalformedError(`${what} text form starts with "${prefix}"`);
  return decodeBase64url(t.slice(prefix.length));
}

/** Item count of a minimally encoded CBOR array header with a 1 to 4 byte length, or -1. */
function arrayHeaderCount(b: Uint8Array): number {
  const n = b[0] === 0x98 ? 1 : b[0] === 0x99 ? 2 : b[0] === 0x9a ? 4 : 0;
  if (n === 0 || b.length < 1 + n) return -1;
  let count = 0;
  for (let i = 1; i <= n; i++) count = count * 256 + b[i]!;
  const min = n === 1 ? 24 : n === 2 ? 0x100 : 0x10000;
  return count >= min ? count : -1;
}

export class Token {
  /** The binary form, exactly as received or issued. */
  readonly bytes: Uint8Array;
  /** Authority key id named by the root block. */
  readonly kid: Uint8Array;
  /** Root first, then delegation blocks in order. */
  readonly blocks: readonly RawBlock[];
  #text: string | undefined;

  private constructor(bytes: Uint8Array, kid: Uint8Array, blocks: RawBlock[]) {
    this.bytes = bytes;
    this.kid = kid;
    this.blocks = Object.freeze(blocks);
    Object.freeze(this);
  }

  /**
   * Parses the binary or text form. Checks: size, CBOR structure, block
   * count against `maxDepth`. Throws ERR_TOO_LARGE, ERR_MALFORMED or ERR_DEPTH.
   */
  static parse(input: string | Uint8Array | Token, options: { maxBytes?: number; maxDepth?: number } = {}): Token {
    const maxBytes = Math.min(options.maxBytes ?? LIMITS.maxTokenBytes, LIMITS.maxTokenBytes);
    const maxDepth = Math.min(options.maxDepth ?? LIMITS.maxDepth, LIMITS.maxDepth);
    if (input instanceof Token) {
      // An already parsed token must still respect the caller's (possibly lower) limits.
      if (input.bytes.length > maxBytes) throw new TooLargeError(`token is ${input.bytes.length} bytes; the limit is ${maxBytes}`);
      if (input.blocks.length - 1 > maxDepth) throw new DepthError(`token has ${input.blocks.length - 1} delegation blocks; the limit is ${maxDepth}`);
      return input;
    }
    const bytes = typeof input === 'string' ? decodeTextForm(input, TOKEN_PREFIX, maxBytes, 'token') : input;
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('token must be text or bytes');
    if (bytes.length > maxBytes) throw new TooLargeError(`token is ${bytes.length} bytes; the limit is ${maxBytes}`);
    // Cheap structural pre-check before the CBOR decoder runs: an array of 2 to 24 items.
    const head = bytes[0] ?? 0;
    if (head < 0x82 || head > 0x97) {
      // Only a minimally encoded definite-length array header may report ERR_DEPTH;
      // indefinite (0x9f), reserved or non-minimal headers are ERR_MALFORMED.
      if (arrayHeaderCount(bytes) > 2 + maxDepth) throw new DepthError(`token has more than ${maxDepth} delegation blocks`);
      throw new MalformedError('token must be a CBOR array [kid, root, delegations...]');
    }
    // Decode our own copy so that later mutation of the caller's buffer changes nothing.
    const own = Uint8Array.from(bytes);
    const v = decodeStrict(own);
    if (!Array.isArray(v) || v.length < 2 || !v.every((x) => x instanceof Uint8Array)) {
      throw new MalformedError('token must be a CBOR array of byte strings [kid, root, delegations...]');
    }
    if (v.length - 2 > maxDepth) throw new DepthError(`token has ${v.length - 2} delegation blocks; the limit is ${maxDepth}`);
    const [kid, ...blocks] = v as Uint8Array[];
    if (kid!.length !== KID_BYTES) throw new MalformedError(`authority key id must be ${KID_BYTES} bytes`);
    return new Token(
      own,
      kid!,
      blocks.map((b, i) => splitBlock(b, i === 0 ? 'root block' : `delegation block ${i}`)),
    );
  }

  /** Builds a token from already encoded parts (used by issue and delegate). */
  static fromParts(kid: Uint8Array, blocks: readonly Uint8Array[]): Token {
    return Token.parse(encode([kid, ...blocks]));
  }

  /** Text form: `cft1.` + base64url. Safe for files, environment variables and HTTP headers. */
  toString(): string {
    this.#text ??= TOKEN_PREFIX + encodeBase64url(this.bytes);
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }

  /** Digest of the last block's payload: what an invocation proof binds to. */
  tip(): Uint8Array {
    return blockDigest(this.blocks[this.blocks.length - 1]!.payload);
  }

  /** Hex key for caches: SHA-256 based, never the token itself. */
  cacheKey(): string {
    return tokenCacheKey(this.bytes);
  }
}

const CACHE_LABEL = label('capframe-v1-token-cache');

/**
 * The key of a token's bytes in verifier caches: the full SHA-256 (a cache hit
 * skips the signature checks, so the key must not be cheaper to collide than
 * a signature is to forge).
 */
export function tokenCacheKey(bytes: Uint8Array): string {
  return sha256Hex(CACHE_LABEL, bytes);
}
