/** Issuing root tokens with an authority key (docs/spec.md §3.2). */
import { randomBytes } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { concat, equalBytes } from '../crypto/hash.ts';
import { InvalidArgumentError, SignatureInvalidError } from '../errors.ts';
import type { Signer } from '../crypto/signer.ts';
import { checkSubject, checkTime, encodeRootPayload, expiryFrom, grantNeedsV2, validateGrants, type Grant } from '../token/block.ts';
import { LIMITS } from '../token/limits.ts';
import { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { signedMessage } from '../token/chain.ts';
import { keyId, toPublicKey, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';

/** What a root token says; the authority's key or Signer is given apart. */
export interface RootTokenOptions {
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
  /**
   * @internal For deterministic test vectors (scripts/gen-vectors.ts) ONLY;
   * never set in production. Fixes the 16-byte token id, which is otherwise
   * random; a reused id would make revocation by id hit unrelated tokens.
   */
  tokenId?: Uint8Array;
}

export interface IssueOptions extends RootTokenOptions {
  /** The authority's private key. */
  key: PrivateKey;
  backend?: Ed25519Backend;
}

/** Issues a root token. Throws ERR_INVALID_ARGUMENT for unusable options. */
export function issueToken(o: IssueOptions): Token {
  if (!o || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('issueToken needs the authority private key');
  const backend = o.backend ?? defaultBackend();
  const payload = rootPayload(o);
  const sig = backend.sign(o.key.seed, signedMessage('root', payload, o.key.kid));
  return Token.fromParts(o.key.kid, [concat(payload, sig)]);
}

/**
 * Issues a root token signed through `signer` (a key file, a non-extractable WebCrypto key,
 * an HSM or a cloud KMS): the same token issueToken makes with that key. Rejects with
 * ERR_INVALID_ARGUMENT for unusable options (before anything is sent to the signer) and with
 * what the signer throws when it cannot sign.
 */
export async function issueTokenWith(signer: Signer, o: RootTokenOptions): Promise<Token> {
  if (!isSigner(signer)) throw new InvalidArgumentError('issueTokenWith needs a Signer (publicKey, its kid, sign)');
  const kid = Uint8Array.from(signer.kid);
  const payload = rootPayload(o);
  const sig = await signer.sign(signedMessage('root', payload, kid));
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new SignatureInvalidError('the signer returned no 64-byte Ed25519 signature');
  return Token.fromParts(kid, [concat(payload, sig)]);
}

function isSigner(s: unknown): s is Signer {
  const x = s as Signer | undefined;
  return (
    !!x &&
    typeof x.sign === 'function' &&
    x.kid instanceof Uint8Array &&
    x.publicKey instanceof Uint8Array &&
    x.publicKey.length === 32 &&
    equalBytes(keyId(x.publicKey), x.kid)
  );
}

/** The signed root payload (spec §3.2) of a token; throws ERR_INVALID_ARGUMENT for unusable options. */
function rootPayload(o: RootTokenOptions): Uint8Array {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('issuing a token needs its options');
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
    grants: grants.map(({ resource, permissions, constraints, tools, closed, rate, budget, approval }) => ({
      resource,
      permissions,
      ...(constraints ? { constraints } : {}),
      ...(tools ? { tools } : {}),
      ...(closed ? { closed } : {}),
      ...(rate ? { rate } : {}),
      ...(budget ? { budget } : {}),
      ...(approval ? { approval } : {}),
    })),
    iat: now,
    ...(nbf !== undefined ? { nbf } : {}),
    exp,
    maxDepth,
    // The lowest format version that can say it: version-1 verifiers keep reading tokens without v1.1 features.
    version: grants.some(grantNeedsV2) ? 2 : 1,
  });
}
