/** Issuing root tokens with an authority key (docs/spec.md §3.2). */
import { randomBytes } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { concat } from '../crypto/hash.ts';
import { InvalidArgumentError } from '../errors.ts';
import { checkSubject, checkTime, encodeRootPayload, expiryFrom, grantNeedsV2, validateGrants, type Grant } from '../token/block.ts';
import { LIMITS } from '../token/limits.ts';
import { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { signedMessage } from '../token/chain.ts';
import { toPublicKey, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';

export interface IssueOptions {
  /** The authority's private key. */
  key: PrivateKey;
  /** Agent identity, e.g. `agent:support`. */
  subject: string;
  /** Public key of the agent that will hold and use the token. */
  holder: PublicKeyInput;
  grants: readonly Grant[];
  /** Lifetime (`1h`, `600`); or give `expiresAt`. */
  ttl?: string | number;
  /** Expiry, unix seconds. */
  expiresAt?: number;
  /** Not valid before this time, unix seconds. */
  notBefore?: number;
  /** How many further delegations are allowed. Default 0: the token cannot be delegated. */
  maxDepth?: number;
  clock?: Clock;
  backend?: Ed25519Backend;
  /**
   * @internal For deterministic test vectors (scripts/gen-vectors.ts) ONLY;
   * never set in production. Fixes the 16-byte token id, which is otherwise
   * random; a reused id would make revocation by id hit unrelated tokens.
   */
  tokenId?: Uint8Array;
}

/** Issues a root token. Throws ERR_INVALID_ARGUMENT for unusable options. */
export function issueToken(o: IssueOptions): Token {
  if (!o || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('issueToken needs the authority private key');
  const backend = o.backend ?? defaultBackend();
  const payload = rootPayloadFor(o);
  const sig = backend.sign(o.key.seed, signedMessage('root', payload, o.key.kid));
  return Token.fromParts(o.key.kid, [concat(payload, sig)]);
}

/** The options of a root token, without the key (shared by issueToken and issueTokenWithSigner). */
export type RootOptions = Omit<IssueOptions, 'key' | 'backend'>;

/** Validates the options and encodes the root payload (§3.2). Throws ERR_INVALID_ARGUMENT. */
export function rootPayloadFor(o: RootOptions): Uint8Array {
  const now = (o.clock ?? systemClock)();
  const exp = expiryFrom(now, o.ttl, o.expiresAt);
  if (exp === undefined) throw new InvalidArgumentError('issueToken needs ttl or expiresAt: tokens always expire');
  if (exp <= now) throw new InvalidArgumentError('expiry must be in the future');
  const maxDepth = o.maxDepth ?? 0;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0 || maxDepth > LIMITS.maxDepth) {
    throw new InvalidArgumentError(`maxDepth must be an integer from 0 to ${LIMITS.maxDepth}`);
  }
  const nbf = o.notBefore === undefined ? undefined : checkTime(o.notBefore, 'notBefore', InvalidArgumentError);
  if (nbf !== undefined && nbf >= exp) throw new InvalidArgumentError('notBefore must be before the expiry');
  if (o.tokenId !== undefined && !(o.tokenId instanceof Uint8Array && o.tokenId.length === 16)) {
    throw new InvalidArgumentError('tokenId must be 16 bytes');
  }
  const grants = validateGrants(o.grants);
  return encodeRootPayload({
    tid: o.tokenId !== undefined ? Uint8Array.from(o.tokenId) : new Uint8Array(randomBytes(16)),
    subject: checkSubject(o.subject, InvalidArgumentError),
    holder: toPublicKey(o.holder),
    grants: grants.map(({ resource, permissions, constraints, tools, closed }) => ({
      resource,
      permissions,
      ...(constraints ? { constraints } : {}),
      ...(tools ? { tools } : {}),
      ...(closed ? { closed } : {}),
    })),
    iat: now,
    ...(nbf !== undefined ? { nbf } : {}),
    exp,
    maxDepth,
    // The lowest format version that can say it: version-1 verifiers keep reading tokens without v1.1 features.
    version: grants.some(grantNeedsV2) ? 2 : 1,
  });
}
