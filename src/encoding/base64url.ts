import { MalformedError } from '../errors.ts';

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Strict: only the base64url alphabet, no padding, canonical trailing bits. */
export function decodeBase64url(text: string): Uint8Array {
  if (typeof text !== 'string' || !ALPHABET.test(text) || text.length % 4 === 1) {
    throw new MalformedError('not base64url (RFC 4648 §5, no padding)');
  }
  const buf = Buffer.from(text, 'base64url');
  if (buf.toString('base64url') !== text) throw new MalformedError('non-canonical base64url');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
