/**
 * Invocation proofs (docs/spec.md §4): one tool call, signed by the holder
 * key of the token's last block.
 *
 *   invocation = CBOR bstr( payload || 64-byte signature )
 *   text       = "cfi1." base64url(invocation)
 *
 * The payload codec is in invocation-payload.ts; batched proofs (`cfb1.`,
 * §4.4 and §4.5) are in invocation-batch.ts and are held by the same class.
 */
import { MalformedError, TooLargeError } from '../errors.ts';
import { encodeBase64url } from '../encoding/base64url.ts';
import { decodeStrict, encode, headSize } from './cbor.ts';
import {
  BATCHED_INVOCATION_PREFIX,
  batchItem,
  batchParts,
  decodeBatchedProof,
  signedBatchItems,
  type BatchedProof,
  type BatchParts,
  type InvocationBatchRef,
} from './invocation-batch.ts';
import { LIMITS } from './limits.ts';
import { decodeTextForm, splitBlock, TEXT_WHITESPACE_ALLOWANCE, trimAsciiWhitespace, type RawBlock } from './token.ts';

export const INVOCATION_PREFIX = 'cfi1.';

/**
 * A signed invocation proof, exactly as created or received: a single proof
 * (`cfi1.`) or one call of a batched proof (`cfb1.`, §4.4, `batch` set).
 */
export class Invocation {
  /**
   * `payload` is the invocation payload (§4.1) in both forms. `signature`
   * covers "capframe-v1-invocation\0" || payload for a single proof, and
   * "capframe-v1-invocation-batch\0" || batch.payload for a batched one.
   */
  readonly block: RawBlock;
  /** Set on a batched proof only. */
  readonly batch: InvocationBatchRef | undefined;
  #text: string | undefined;
  #bytes: Uint8Array | undefined;
  readonly #encode: (() => Uint8Array) | undefined;

  /** `bytes` may be given as the function that encodes them (built on first use). */
  private constructor(bytes: Uint8Array | (() => Uint8Array), block: RawBlock, batch?: InvocationBatchRef) {
    if (typeof bytes === 'function') this.#encode = bytes;
    else this.#bytes = bytes;
    this.block = block;
    this.batch = batch;
    Object.freeze(this);
  }

  static #ofBatched(p: BatchedProof): Invocation {
    return new Invocation(p.bytes, p.block, p.batch);
  }

  /**
   * Checks size and envelope only; the signature, the batch inclusion and
   * the payload are checked by the verifier. Accepts both forms: `cfi1.` text
   * or a CBOR byte string (single), `cfb1.` text or a CBOR array (batched).
   */
  static parse(input: string | Uint8Array | Invocation): Invocation {
    if (input instanceof Invocation) return input;
    const batched =
      typeof input === 'string'
        ? trimAsciiWhitespace(input.slice(0, TEXT_WHITESPACE_ALLOWANCE + BATCHED_INVOCATION_PREFIX.length)).startsWith(BATCHED_INVOCATION_PREFIX)
        : input instanceof Uint8Array && input.length > 0 && input[0]! >> 5 === 4; // CBOR major type 4: array
    const max = batched ? LIMITS.maxBatchedInvocationBytes : LIMITS.maxInvocationBytes;
    const prefix = batched ? BATCHED_INVOCATION_PREFIX : INVOCATION_PREFIX;
    const bytes = typeof input === 'string' ? decodeTextForm(input, prefix, max, 'invocation') : input;
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('invocation must be text or bytes');
    if (bytes.length > max) throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${max}`);
    const own = Uint8Array.from(bytes);
    if (!batched) {
      // The common case, read without the general decoder (and its re-encoding check): a
      // byte string whose head is the shortest form of its length and which fills the input
      // is exactly what decodeStrict accepts for it. Anything else goes to decodeStrict, which
      // refuses it with the same error as before.
      const block = bstrContent(own);
      if (block !== undefined) return new Invocation(own, splitBlock(block, 'invocation'));
    }
    const v = decodeStrict(own);
    if (batched) return Invocation.#ofBatched(decodeBatchedProof(own, v));
    if (!(v instanceof Uint8Array)) throw new MalformedError('invocation must be a CBOR byte string');
    return new Invocation(own, splitBlock(v, 'invocation'));
  }

  /**
   * The single proof made of a signed block (payload || signature). What
   * parse() of its bytes would give, without decoding them again: the
   * envelope is a CBOR byte string, built here by the deterministic encoder.
   * The payload is checked when the proof is verified, as for any received proof.
   */
  static fromBlock(blockBytes: Uint8Array): Invocation {
    if (!(blockBytes instanceof Uint8Array)) throw new MalformedError('invocation block must be bytes');
    const block = Uint8Array.from(blockBytes);
    const bytes = encode(block);
    if (bytes.length > LIMITS.maxInvocationBytes) throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${LIMITS.maxInvocationBytes}`);
    return new Invocation(bytes, splitBlock(block, 'invocation'));
  }

  /**
   * A signed batch received apart from its items (the service's batch
   * endpoint, docs/spec.md §4.5): the batch payload and signature, checked
   * and copied once, shared by the proofs fromBatchItem() builds.
   */
  static batchParts(batchPayload: Uint8Array, signature: Uint8Array): BatchParts {
    return batchParts(batchPayload, signature);
  }

  /**
   * The batched proof (§4.4) of item `index` of a signed batch received as
   * parts: exactly the proof [item, batch payload, signature, index], checked
   * like a received one (the verifier checks inclusion and signature).
   */
  static fromBatchItem(itemPayload: Uint8Array, parts: BatchParts, index: number): Invocation {
    return Invocation.#ofBatched(batchItem(itemPayload, parts, index));
  }

  /**
   * The batched proofs of every item of a signed batch, in order (the
   * signer's path: the batch payload is decoded once, not once per item).
   * Checks that the batch lists exactly these items, in this order.
   */
  static fromSignedBatch(itemPayloads: readonly Uint8Array[], batchPayload: Uint8Array, signature: Uint8Array): Invocation[] {
    return signedBatchItems(itemPayloads, batchPayload, signature).map((p) => Invocation.#ofBatched(p));
  }

  /** The proof's binary form (a CBOR byte string, or the batched proof's CBOR array). */
  get bytes(): Uint8Array {
    return (this.#bytes ??= this.#encode!());
  }

  toString(): string {
    this.#text ??= (this.batch ? BATCHED_INVOCATION_PREFIX : INVOCATION_PREFIX) + encodeBase64url(this.bytes);
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * The content of a CBOR byte string in deterministic encoding (RFC 8949
 * §4.2.1: the length in its shortest head) that is the whole input, as a
 * copy; undefined for anything else (another type, an indefinite or longer
 * head, a length that does not match the input).
 */
function bstrContent(b: Uint8Array): Uint8Array | undefined {
  const first = b[0];
  if (first === undefined || first >> 5 !== 2) return undefined;
  const info = first & 0x1f;
  let n: number;
  let head: number;
  if (info < 24) {
    n = info;
    head = 1;
  } else if (info === 24 && b.length >= 2) {
    n = b[1]!;
    head = 2;
  } else if (info === 25 && b.length >= 3) {
    n = (b[1]! << 8) | b[2]!;
    head = 3;
  } else if (info === 26 && b.length >= 5) {
    n = ((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0;
    head = 5;
  } else return undefined;
  if (headSize(n) !== head || head + n !== b.length) return undefined;
  return b.slice(head);
}
