/**
 * An authority: the key that signs new tokens plus the keyring of keys whose
 * tokens are still trusted. rotate() switches signing to a new key while the
 * old one keeps verifying until retire() removes it.
 */
import type { PrivateKey } from '../crypto/keys.ts';
import { kidToString } from '../crypto/keys.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { Token } from '../token/token.ts';
import { issueToken, type IssueOptions } from './issue.ts';
import { Keyring } from './keyring.ts';

export class Authority {
  #signing: PrivateKey;
  readonly keyring: Keyring;

  constructor(signingKey: PrivateKey, keyring: Keyring = new Keyring()) {
    this.#signing = signingKey;
    this.keyring = keyring;
    keyring.add(signingKey.publicKey);
  }

  /** Key id (base64url) of the key that signs new tokens. */
  get kid(): string {
    return kidToString(this.#signing.kid);
  }

  get publicKey(): Uint8Array {
    return this.#signing.publicKey;
  }

  issue(options: Omit<IssueOptions, 'key'>): Token {
    return issueToken({ ...options, key: this.#signing });
  }

  /** New tokens are signed with `next`; tokens of the previous key keep verifying. */
  rotate(next: PrivateKey): void {
    this.keyring.add(next.publicKey);
    this.#signing = next;
  }

  /** Stops trusting a previous key (by kid). The current signing key cannot be retired. */
  retire(kid: string): boolean {
    // Resolve the name exactly as the keyring would (kid text, cfk1 public key, ...).
    if (new Keyring([this.#signing.publicKey]).remove(kid)) throw new InvalidArgumentError('cannot retire the current signing key; rotate first');
    return this.keyring.remove(kid);
  }
}
