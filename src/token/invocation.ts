/**
 * Invocation proofs (docs/spec.md §4): one tool call, signed by the holder
 * key of the token's last block.
 *
 *   invocation = CBOR bstr( payload || 64-byte signature )
 *   text       = "cfi1." base64url(invocation)
 */
import { MalformedError, TooLargeError } from '../errors.ts';
import { encodeBase64url } from './base64url.ts';
import { decodeStrict, encode, type CborMap, type CborValue } from './cbor.ts';
import { checkTime } from './block.ts';
import { LIMITS } from './limits.ts';
import { decodeTextForm, splitBlock, type RawBlock } from './token.ts';

export const INVOCATION_PREFIX = 'cfi1.';

export interface InvocationPayload {
  /** blockDigest of the token's last block payload. */
  readonly tip: Uint8Array;
  readonly tool: string;
  readonly operation: string;
  /** Concrete resource in normal form. */
  readonly resource: string;
  /** argsDigest(args), 32 bytes. */
  readonly args: Uint8Array;
  readonly callId: string;
  readonly nonce: Uint8Array;
  readonly iat: number;
  readonly exp: number;
}

const K = { tip: 1, tool: 2, operation: 3, resource: 4, args: 5, callId: 6, nonce: 7, iat: 8, exp: 9 } as const;
const KEYS = new Set<number>(Object.values(K));
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/; // same set as block.ts (C0, DEL, C1)

export function checkName(v: unknown, what: string, max: number = LIMITS.maxStringBytes): string {
  if (typeof v !== 'string' || v.length === 0 || byteLength(v) > max || CONTROL.test(v)) {
    throw new MalformedError(`${what} must be 1 to ${max} bytes of text without control characters`);
  }
  return v;
}

export function encodeInvocationPayload(p: InvocationPayload): Uint8Array {
  return encode(new Map<number, CborValue>([
    [K.tip, p.tip], [K.tool, p.tool], [K.operation, p.operation], [K.resource, p.resource],
    [K.args, p.args], [K.callId, p.callId], [K.nonce, p.nonce], [K.iat, p.iat], [K.exp, p.exp],
  ]));
}

function bytesOf(m: CborMap, k: number, n: number, what: string): Uint8Array {
  const v = m.get(k);
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`invocation ${what} must be ${n} bytes`);
  return v;
}

export function decodeInvocationPayload(bytes: Uint8Array): InvocationPayload {
  const m = decodeStrict(bytes);
  if (!(m instanceof Map)) throw new MalformedError('invocation payload must be a CBOR map');
  for (const k of m.keys()) if (typeof k !== 'number' || !KEYS.has(k)) throw new MalformedError(`invocation has unknown field ${JSON.stringify(k)}`);
  if (m.size !== KEYS.size) throw new MalformedError('invocation is missing fields');
  const p: InvocationPayload = {
    tip: bytesOf(m, K.tip, 16, 'token tip'),
    tool: checkName(m.get(K.tool), 'tool name'),
    operation: checkName(m.get(K.operation), 'operation'),
    resource: checkName(m.get(K.resource), 'resource', LIMITS.maxResourceBytes),
    args: bytesOf(m, K.args, 32, 'argument digest'),
    callId: checkName(m.get(K.callId), 'call id'),
    nonce: bytesOf(m, K.nonce, 16, 'nonce'),
    iat: checkTime(m.get(K.iat), 'iat', MalformedError),
    exp: checkTime(m.get(K.exp), 'exp', MalformedError),
  };
  if (p.exp <= p.iat) throw new MalformedError('invocation expires before it was issued');
  if (p.exp - p.iat > LIMITS.maxInvocationWindow) {
    throw new MalformedError(`invocation lifetime ${p.exp - p.iat}s exceeds the ${LIMITS.maxInvocationWindow}s limit`);
  }
  return p;
}

/** A signed invocation proof, exactly as created or received. */
export class Invocation {
  readonly bytes: Uint8Array;
  readonly block: RawBlock;
  #text: string | undefined;

  private constructor(bytes: Uint8Array, block: RawBlock) {
    this.bytes = bytes;
    this.block = block;
    Object.freeze(this);
  }

  /** Checks size and envelope only; the signature and payload are checked by the verifier. */
  static parse(input: string | Uint8Array | Invocation): Invocation {
    if (input instanceof Invocation) return input;
    const max = LIMITS.maxInvocationBytes;
    const bytes = typeof input === 'string' ? decodeTextForm(input, INVOCATION_PREFIX, max, 'invocation') : input;
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('invocation must be text or bytes');
    if (bytes.length > max) throw new TooLargeError(`invocation is ${bytes.length} bytes; the limit is ${max}`);
    const own = Uint8Array.from(bytes);
    const v = decodeStrict(own);
    if (!(v instanceof Uint8Array)) throw new MalformedError('invocation must be a CBOR byte string');
    return new Invocation(own, splitBlock(v, 'invocation'));
  }

  static fromBlock(blockBytes: Uint8Array): Invocation {
    return Invocation.parse(encode(blockBytes));
  }

  toString(): string {
    this.#text ??= INVOCATION_PREFIX + encodeBase64url(this.bytes);
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

