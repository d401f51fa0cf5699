import { randomBytes } from 'node:crypto';

/** A fresh random call id, for callers that have none. */
export function newCallId(): string {
  return 'call_' + randomBytes(12).toString('base64url');
}
