import { createHash, hash } from 'node:crypto';

/** One contiguous input for the one-shot hash (a native call instead of createHash/update/digest). */
function joined(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(hash('sha256', joined(parts), 'buffer'));
}

export function sha512(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const enc = new TextEncoder();
/** UTF-8 bytes of a domain-separation label followed by a 0x00 byte. */
export function label(text: string): Uint8Array {
  const b = enc.encode(text);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** First 16 bytes of SHA-256(label || data): the 128-bit digests of docs/spec.md §3. */
export function digest16(labelBytes: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  return sha256(labelBytes, ...data).subarray(0, 16);
}

/** toHex(sha256(...parts)), without the intermediate bytes. */
export function sha256Hex(...parts: Uint8Array[]): string {
  return hash('sha256', joined(parts), 'hex');
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The bytes of `parts`, one after the other, in a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
