/**
 * The child credentials of one `task` call: a token derived from the
 * parent's for a fresh holder key, narrowed as the sub-agent type's entry
 * says. The key is generated here and lives only in the child's run config.
 */
import { generateKey, type PrivateKey } from '../crypto/keys.ts';
import { MissingTokenError } from '../errors.ts';
import { delegate } from '../holder/delegate.ts';
import type { SubagentEntry } from '../config/subagents.ts';
import { systemClock, type Clock } from '../clock.ts';
import { decodeChain } from '../token/chain.ts';
import { Token } from '../token/token.ts';
import type { Credentials } from './credentials.ts';

export interface ChildCredentials extends Credentials {
  readonly token: Token;
  readonly holderKey: PrivateKey;
}

export function delegateChild(parent: Credentials, entry: SubagentEntry, clock?: Clock): ChildCredentials {
  if (!parent.holderKey) throw new MissingTokenError("delegating to a sub-agent needs the parent's holder key (capframe.holderKey)");
  const parentToken = Token.parse(parent.token);
  // The entry's ttl is a ceiling: a parent that expires sooner bounds the child (delegate() refuses a later expiry).
  const expiresAt = entry.ttl !== undefined ? Math.min((clock ?? systemClock)() + entry.ttl, decodeChain(parentToken).exp) : undefined;
  const key = generateKey();
  const token = delegate(parentToken, {
    key: parent.holderKey,
    to: key.publicKey,
    subject: entry.subject,
    ...(entry.grants ? { grants: entry.grants } : {}),
    ...(entry.permissions ? { permissions: entry.permissions } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    maxDepth: entry.maxDepth,
    ...(clock ? { clock } : {}),
  });
  return Object.freeze({ token, holderKey: key });
}
