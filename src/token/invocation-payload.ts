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
  if (n < 24) { out[o] = m | n; return o + 1; }
  if (n < 0x100) { out[o] = m | 24; out[o + 1] = n; return o + 2; }
  if (n < 0x10000) { out[o] = m | 25; out[o + 1] = n >>> 8; out[o + 2] = n & 0xff; return o + 3; }
  out[o] = m | 26; out[o + 1] = (n >>> 24) & 0xff; out[o + 2] = (n >>> 16) & 0xff; out[o + 3] = (n >>> 8) & 0xff; out[o + 4] = n & 0xff;
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
  const size = 1 + 18 + (1 + headSize(tool) + tool) + (1 + headSize(op) + op) + (1 + headSize(res) + res) + 35
    + (1 + headSize(cid) + cid) + 18 + (1 + headSize(p.iat)) + (1 + headSize(p.exp));
  const out = Buffer.alloc(size);
  let o = 0;
  out[o++] = 0xa9;
  out[o++] = 1; o = putHead(out, o, 2, 16); out.set(p.tip, o); o += 16;
  out[o++] = 2; o = putHead(out, o, 3, tool); o += out.write(p.tool, o, tool, 'utf8');
  out[o++] = 3; o = putHead(out, o, 3, op); o += out.write(p.operation, o, op, 'utf8');
  out[o++] = 4; o = putHead(out, o, 3, res); o += out.write(p.resource, o, res, 'utf8');
  out[o++] = 5; o = putHead(out, o, 2, 32); out.set(p.args, o); o += 32;
  out[o++] = 6; o = putHead(out, o, 3, cid); o += out.write(p.callId, o, cid, 'utf8');
  out[o++] = 7; o = putHead(out, o, 2, 16); out.set(p.nonce, o); o += 16;
  out[o++] = 8; o = putHead(out, o, 0, p.iat);
  out[o++] = 9; o = putHead(out, o, 0, p.exp);
  if (o !== size) return encodeInvocationPayloadGeneral(p);
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** encodeInvocationPayload() through the general deterministic encoder. */
export function encodeInvocationPayloadGeneral(p: InvocationPayload): Uint8Array {
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

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// The reader's position: module state rather than closures, as it runs on every verified call.
let rb: Uint8Array = new Uint8Array(0);
let ro = 0;

/** A shortest-form head of `major` with an argument below 2^32, or -1. */
function readHead(major: number): number {
  const b = rb;
  const n = b.length;
  if (ro >= n) return -1;
  const ib = b[ro++]!;
  if (ib >> 5 !== major) return -1;
  const ai = ib & 31;
  if (ai < 24) return ai;
  if (ai === 24) { if (ro + 1 > n) return -1; const v = b[ro++]!; return v < 24 ? -1 : v; }
  if (ai === 25) { if (ro + 2 > n) return -1; const v = (b[ro]! << 8) | b[ro + 1]!; ro += 2; return v < 0x100 ? -1 : v; }
  if (ai === 26) {
    if (ro + 4 > n) return -1;
    const v = b[ro]! * 0x1000000 + ((b[ro + 1]! << 16) | (b[ro + 2]! << 8) | b[ro + 3]!);
    ro += 4;
    return v < 0x10000 ? -1 : v;
  }
  return -1;
}

function readKey(k: number): boolean {
  return ro < rb.length && rb[ro++] === k;
}

function readBytes(len: number): Uint8Array | undefined {
  if (readHead(2) !== len || ro + len > rb.length) return undefined;
  ro += len;
  return rb.subarray(ro - len, ro);
}

function readText(): string | undefined {
  const len = readHead(3);
  // Longer texts fail the field checks anyway; the strict decoder then names the error.
  if (len < 0 || len > LIMITS.maxResourceBytes || ro + len > rb.length) return undefined;
  const from = ro;
  ro += len;
  for (let i = from; i < ro; i++) {
    if (rb[i]! >= 0x80) {
      try {
        return UTF8.decode(rb.subarray(from, ro));
      } catch {
        return undefined;
      }
    }
  }
  // ASCII: no native call.
  return String.fromCharCode.apply(null, rb.subarray(from, ro) as unknown as number[]);
}

/**
 * Reads the one byte layout a valid payload can have in deterministic CBOR
 * (a map of 9 entries, keys 1 to 9 in order, shortest-form heads, definite
 * lengths, the exact byte string sizes, unsigned times below 2^32, strict
 * UTF-8) straight from the bytes. Returns undefined for anything else, and
 * then the strict decoder decides (and names the error). It must accept
 * nothing that decoder refuses: test/core/invocation-fastpath.test.ts checks
 * the two against each other on valid and mutated payloads.
 */
export function readInvocationPayloadFast(b: Uint8Array): InvocationPayload | undefined {
  rb = b;
  ro = 0;
  try {
    if (b.length === 0 || b[ro++] !== 0xa9 || !readKey(1)) return undefined;
    const tip = readBytes(16);
    if (!tip || !readKey(2)) return undefined;
    const tool = readText();
    if (tool === undefined || !readKey(3)) return undefined;
    const operation = readText();
    if (operation === undefined || !readKey(4)) return undefined;
    const resource = readText();
    if (resource === undefined || !readKey(5)) return undefined;
    const args = readBytes(32);
    if (!args || !readKey(6)) return undefined;
    const callId = readText();
    if (callId === undefined || !readKey(7)) return undefined;
    const nonce = readBytes(16);
    if (!nonce || !readKey(8)) return undefined;
    const iat = readHead(0);
    if (iat < 0 || !readKey(9)) return undefined;
    const exp = readHead(0);
    if (exp < 0 || ro !== b.length) return undefined;
    return { tip, tool, operation, resource, args, callId, nonce, iat, exp };
  } finally {
    rb = EMPTY;
  }
}
const EMPTY = new Uint8Array(0);

/** Decodes and checks an invocation payload. Throws MalformedError. */
export function decodeInvocationPayload(bytes: Uint8Array): InvocationPayload {
  const fast = bytes instanceof Uint8Array ? readInvocationPayloadFast(bytes) : undefined;
  if (fast !== undefined) return checkPayload(fast);
  return decodeInvocationPayloadStrict(bytes);
}

/** decodeInvocationPayload() through the general strict CBOR decoder. */
export function decodeInvocationPayloadStrict(bytes: Uint8Array): InvocationPayload {
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

/** The checks on decoded fields that both decoding paths share. */
function checkPayload(p: InvocationPayload): InvocationPayload {
  checkName(p.tool, 'tool name');
  checkName(p.operation, 'operation');
  checkName(p.resource, 'resource', LIMITS.maxResourceBytes);
  checkName(p.callId, 'call id');
  checkTime(p.iat, 'iat', MalformedError);
  checkTime(p.exp, 'exp', MalformedError);
  if (p.exp <= p.iat) throw new MalformedError('invocation expires before it was issued');
  if (p.exp - p.iat > LIMITS.maxInvocationWindow) {
    throw new MalformedError(`invocation lifetime ${p.exp - p.iat}s exceeds the ${LIMITS.maxInvocationWindow}s limit`);
  }
  return p;
}
