/**
 * Trusted authority public keys, by key id. Rotation: add the new key, keep
 * the old one until every token it signed has expired, then remove it.
 */
import { InvalidArgumentError } from '../errors.ts';
import { keyId, kidToString, toPublicKey, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';

export type { PublicKeyInput } from '../crypto/keys.ts';
import { toHex } from '../crypto/hash.ts';

export class Keyring {
  readonly #keys = new Map<string, Uint8Array>();
  #epoch = 0;

  constructor(keys: Iterable<PublicKeyInput> = []) {
    for (const k of keys) this.add(k);
  }

  /** Adds a trusted key; returns its key id (base64url). */
  add(key: PublicKeyInput): string {
    const pub = toPublicKey(key);
    const kid = keyId(pub);
    const id = toHex(kid);
    const existing = this.#keys.get(id);
    if (existing && toHex(existing) !== toHex(pub)) {
      throw new InvalidArgumentError(`two different keys share key id ${kidToString(kid)}`);
    }
    this.#keys.set(id, pub);
    this.#epoch++;
    return kidToString(kid);
  }

  /** Removes a key by key id (base64url text, raw bytes) or by the key itself. Returns whether it was present. */
  remove(key: string | Uint8Array | PrivateKey): boolean {
    let id: string;
    if (typeof key === 'string' && !key.startsWith('cfk1.')) id = toHex(Buffer.from(key, 'base64url'));
    else if (key instanceof Uint8Array && key.length !== 32) id = toHex(key);
    else id = toHex(keyId(toPublicKey(key as PublicKeyInput)));
    const had = this.#keys.delete(id);
    if (had) this.#epoch++;
    return had;
  }

  /** The public key for a raw key id, or undefined. */
  get(kid: Uint8Array): Uint8Array | undefined {
    return this.#keys.get(toHex(kid));
  }

  /** Bumped on every change: verifiers drop cached chains from older epochs. */
  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#keys.size;
  }

  kids(): string[] {
    return [...this.#keys.keys()].map((h) => kidToString(Buffer.from(h, 'hex')));
  }
}
