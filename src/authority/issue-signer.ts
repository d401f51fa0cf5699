/**
 * Issuing root tokens through an async `Signer` (a key file, WebCrypto, an
 * HSM or a KMS): the same token bytes as issueToken with the same key.
 */
import { InvalidArgumentError } from '../errors.ts';
import { concat } from '../crypto/hash.ts';
import type { Signer } from '../crypto/signer.ts';
import { signedMessage } from '../token/chain.ts';
import { Token } from '../token/token.ts';
import { rootPayloadFor, type RootOptions } from './issue.ts';

export interface IssueWithSignerOptions extends RootOptions {
  /** Signs as the authority. */
  signer: Signer;
}

/** Issues a root token signed by `signer`. Rejects with ERR_INVALID_ARGUMENT for unusable options or a bad signature length. */
export async function issueTokenWithSigner(o: IssueWithSignerOptions): Promise<Token> {
  if (!o || !o.signer || typeof o.signer.sign !== 'function' || !(o.signer.kid instanceof Uint8Array) || o.signer.kid.length !== 8) {
    throw new InvalidArgumentError('issueTokenWithSigner needs a Signer');
  }
  const { signer, ...rest } = o;
  const payload = rootPayloadFor(rest);
  const sig = await signer.sign(signedMessage('root', payload, signer.kid));
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new InvalidArgumentError('the signer returned a signature that is not 64 bytes');
  return Token.fromParts(signer.kid, [concat(payload, sig)]);
}
