/**
 * The invocation payload (docs/spec.md §4.1): the nine fields of one tool
 * call that a proof signs, as a deterministic CBOR map with keys 1 to 9.
 */
import { MalformedError } from '../errors.ts';
import { decodeStrict, encode, headSize, type CborMap, type CborValue } from './cbor.ts';
import { checkText, checkTime } from './block.ts';
import { LIMITS } from './limits.ts';

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

/** A tool name, operation, resource or call id: well-formed text within its byte limit. */
export function checkName(v: unknown, what: string, max: number = LIMITS.maxStringBytes): string {
  return checkText(v, what, MalformedError, max);
}

function putHead(out: Uint8Array, o: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[o] = m | n;
    return o + 1;
  }
  if (n < 0x100) {
    out[o] = m | 24;
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o] = m | 25;
    out[o + 1] = n >>> 8;
    out[o + 2] = n & 0xff;
    return o + 3;
  }
  out[o] = m | 26;
  out[o + 1] = (n >>> 24) & 0xff;
  out[o + 2] = (n >>> 16) & 0xff;
  out[o + 3] = (n >>> 8) & 0xff;
  out[o + 4] = n & 0xff;
  return o + 5;
}

const isTime = (t: number) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff;

/**
 * The deterministic CBOR of an invocation payload (§4.1): a map of the nine
 * fields, keys 1 to 9. Written directly, as the holder signs one payload per
 * call; the same bytes as the general encoder (test/core/invocation-fastpath.test.ts
 * checks this), which takes over for anything unusual.
 */
export function encodeInvocationPayload(p: InvocationPayload): Uint8Array {
  if (p.tip.length !== 16 || p.args.length !== 32 || p.nonce.length !== 16 || !isTime(p.iat) || !isTime(p.exp)) return encodeInvocationPayloadGeneral(p);
  const tool = Buffer.byteLength(p.tool, 'utf8');
  const op = Buffer.byteLength(p.operation, 'utf8');
  const res = Buffer.byteLength(p.resource, 'utf8');
  const cid = Buffer.byteLength(p.callId, 'utf8');
  const size =
    1 +
    18 +
    (1 + headSize(tool) + tool) +
    (1 + headSize(op) + op) +
    (1 + headSize(res) + res) +
    35 +
    (1 + headSize(cid) + cid) +
    18 +
    (1 + headSize(p.iat)) +
    (1 + headSize(p.exp));
  const out = Buffer.alloc(size);
  let o = 0;
  out[o++] = 0xa9;
  out[o++] = 1;
  o = putHead(out, o, 2, 16);
  out.set(p.tip, o);
  o += 16;
  out[o++] = 2;
  o = putHead(out, o, 3, tool);
  o += out.write(p.tool, o, tool, 'utf8');
  out[o++] = 3;
  o = putHead(out, o, 3, op);
  o += out.write(p.operation, o, op, 'utf8');
  out[o++] = 4;
  o = putHead(out, o, 3, res);
  o += out.write(p.resource, o, res, 'utf8');
  out[o++] = 5;
  o = putHead(out, o, 2, 32);
  out.set(p.args, o);
  o += 32;
  out[o++] = 6;
  o = putHead(out, o, 3, cid);
  o += out.write(p.callId, o, cid, 'utf8');
  out[o++] = 7;
  o = putHead(out, o, 2, 16);
  out.set(p.nonce, o);
  o += 16;
  out[o++] = 8;
  o = putHead(out, o, 0, p.iat);
  out[o++] = 9;
  o = putHead(out, o, 0, p.exp);
  if (o !== size) return encodeInvocationPayloadGeneral(p);
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** encodeInvocationPayload() through the general deterministic encoder. */
export function encodeInvocationPayloadGeneral(p: InvocationPayload): Uint8Array {
  return encode(
    new Map<number, CborValue>([
      [K.tip, p.tip],
      [K.tool, p.tool],
      [K.operation, p.operation],
      [K.resource, p.resource],
      [K.args, p.args],
      [K.callId, p.callId],
      [K.nonce, p.nonce],
      [K.iat, p.iat],
      [K.exp, p.exp],
    ]),
  );
}

function bytesOf(m: CborMap, k: number, n: number, what: string): Uint8Array {
  const v = m.get(k);
  if (!(v instanceof Uint8Array) || v.length !== n) throw new MalformedError(`invocation ${what} must be ${n} bytes`);
  return v;
}

/** Decodes and checks an invocation payload (strict deterministic CBOR). Throws MalformedError. */
export function decodeInvocationPayload(bytes: Uint8Array): InvocationPayload {
  const m = decodeStrict(bytes);
  if (!(m instanceof Map)) throw new MalformedError('invocation payload must be a CBOR map');
  for (const k of m.keys()) if (typeof k !== 'number' || !KEYS.has(k)) throw new MalformedError(`invocation has unknown field ${JSON.stringify(k)}`);
  if (m.size !== KEYS.size) throw new MalformedError('invocation is missing fields');
  // Texts and times are typed and checked by checkPayload.
  return checkPayload({
    tip: bytesOf(m, K.tip, 16, 'token tip'),
    tool: m.get(K.tool) as string,
    operation: m.get(K.operation) as string,
    resource: m.get(K.resource) as string,
    args: bytesOf(m, K.args, 32, 'argument digest'),
    callId: m.get(K.callId) as string,
    nonce: bytesOf(m, K.nonce, 16, 'nonce'),
    iat: m.get(K.iat) as number,
    exp: m.get(K.exp) as number,
  });
}

/** The checks on the decoded fields. */
function checkPayload(p: InvocationPayload): InvocationPayload {
  checkName(p.tool, 'tool name');
  checkName(p.operation, 'operation');
  // Only the type: whether the text is an acceptable resource is §5.2, checked at §9 step 9
  // (ERR_SCOPE_RESOURCE), the same rule and code as on the in-process path.
  if (typeof p.resource !== 'string') throw new MalformedError('invocation resource must be text');
  checkName(p.callId, 'call id');
  checkTime(p.iat, 'iat', MalformedError);
  checkTime(p.exp, 'exp', MalformedError);
  if (p.exp <= p.iat) throw new MalformedError('invocation expires before it was issued');
  if (p.exp - p.iat > LIMITS.maxInvocationWindow) {
    throw new MalformedError(`invocation lifetime ${p.exp - p.iat}s exceeds the ${LIMITS.maxInvocationWindow}s limit`);
  }
  return p;
}
