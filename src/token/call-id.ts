import { randomFillSync } from 'node:crypto';

/**
 * 12 random bytes per id, drawn from the CSPRNG in batches (one native call
 * per 256 ids, as the holder's nonces): a call id is made on every signed
 * call, and a native call per id cost a few microseconds. Each byte is used
 * once and cleared after use.
 */
const pool = Buffer.alloc(12 * 256);
let offset = pool.length;

/** A fresh random call id, for callers that have none. */
export function newCallId(): string {
  if (offset + 12 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = 'call_' + pool.toString('base64url', offset, offset + 12);
  pool.fill(0, offset, offset + 12);
  offset += 12;
  return id;
}
