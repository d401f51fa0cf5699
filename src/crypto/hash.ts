import { createHash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
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

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
