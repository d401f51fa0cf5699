import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { InvalidArgumentError, MalformedError } from '../errors.ts';
import type { Ed25519Backend } from './backend.ts';
import { digest16, label } from './hash.ts';
import { defaultBackend } from './default.ts';
import { isWeakPublicKey } from './weak.ts';
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';

const KID_LABEL = label('capframe-v1-kid');
export const PUBLIC_KEY_PREFIX = 'cfk1.';
export const KID_BYTES = 8;

/** A private key held in memory: the 32-byte seed plus derived public key and key id. */
export interface PrivateKey {
  readonly kind: 'private';
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Key id: first 8 bytes of SHA-256("capframe-v1-kid" 0x00 || publicKey). */
  readonly kid: Uint8Array;
}

/** Key id of a raw 32-byte Ed25519 public key (docs/spec.md §3). */
export function keyId(publicKey: Uint8Array): Uint8Array {
  return digest16(KID_LABEL, publicKey).slice(0, KID_BYTES);
}

export function kidToString(kid: Uint8Array): string {
  return encodeBase64url(kid);
}

export function generateKey(backend: Ed25519Backend = defaultBackend()): PrivateKey {
  return importSeed(new Uint8Array(randomBytes(32)), backend);
}

export function importSeed(seed: Uint8Array, backend: Ed25519Backend = defaultBackend()): PrivateKey {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new InvalidArgumentError('an Ed25519 private key seed is 32 bytes');
  const s = Uint8Array.from(seed);
  const publicKey = backend.publicKeyFromSeed(s);
  const key = { kind: 'private' as const, seed: s, publicKey, kid: keyId(publicKey) };
  // A PrivateKey travels in run configs (configurable.capframe.holderKey): whoever logs such a
  // config with JSON.stringify or console.log must not print the seed. Non-enumerable, so
  // equality checks and spreads see only the four key fields; `key.seed` stays readable.
  Object.defineProperties(key, {
    toJSON: { value: publicView },
    [inspect.custom]: {
      value: function (this: PrivateKey) {
        return `PrivateKey ${inspect(publicView.call(this))}`;
      },
    },
  });
  return Object.freeze(key);
}

/** What a PrivateKey shows of itself when serialised or inspected: never the seed. */
function publicView(this: PrivateKey): { kind: 'private'; kid: string; publicKey: string } {
  return { kind: 'private', kid: kidToString(this.kid), publicKey: formatPublicKey(this.publicKey) };
}

/** Text form of a public key: `cfk1.` + base64url(32 raw bytes). */
export function formatPublicKey(publicKey: Uint8Array): string {
  return PUBLIC_KEY_PREFIX + encodeBase64url(publicKey);
}

export function parsePublicKey(text: string): Uint8Array {
  if (typeof text !== 'string' || !text.startsWith(PUBLIC_KEY_PREFIX)) {
    throw new MalformedError(`a public key starts with "${PUBLIC_KEY_PREFIX}"`);
  }
  const raw = decodeBase64url(text.slice(PUBLIC_KEY_PREFIX.length));
  if (raw.length !== 32) throw new MalformedError('a public key is 32 bytes');
  return raw;
}

export const PRIVATE_KEY_FILE_TYPE = 'capframe-ed25519-private-key';

/** JSON document stored in a private key file (written with mode 0600 by the CLI). */
export function serializePrivateKey(key: PrivateKey): string {
  return (
    JSON.stringify(
      {
        type: PRIVATE_KEY_FILE_TYPE,
        kid: kidToString(key.kid),
        publicKey: formatPublicKey(key.publicKey),
        privateKey: encodeBase64url(key.seed),
      },
      null,
      2,
    ) + '\n'
  );
}

export function parsePrivateKey(text: string, backend: Ed25519Backend = defaultBackend()): PrivateKey {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new MalformedError('a private key file is a JSON document');
  }
  if (typeof doc !== 'object' || doc === null || (doc as { type?: unknown }).type !== PRIVATE_KEY_FILE_TYPE) {
    throw new MalformedError(`a private key file has "type": "${PRIVATE_KEY_FILE_TYPE}"`);
  }
  const { privateKey, publicKey } = doc as { privateKey?: unknown; publicKey?: unknown };
  if (typeof privateKey !== 'string') throw new MalformedError('private key file: "privateKey" is missing');
  const seed = decodeBase64url(privateKey);
  if (seed.length !== 32) throw new MalformedError('private key file: "privateKey" is not 32 bytes');
  const key = importSeed(seed, backend);
  if (publicKey !== undefined && publicKey !== formatPublicKey(key.publicKey)) {
    throw new MalformedError('private key file: "publicKey" does not belong to "privateKey"');
  }
  return key;
}

/** A public key as callers give it: raw 32 bytes, `cfk1.…` text, or a private key (its public half). */
export type PublicKeyInput = Uint8Array | string | PrivateKey;

export function toPublicKey(k: PublicKeyInput): Uint8Array {
  let pub: Uint8Array;
  if (typeof k === 'string') pub = parsePublicKey(k);
  else if (k instanceof Uint8Array) {
    if (k.length !== 32) throw new InvalidArgumentError('a raw Ed25519 public key is 32 bytes');
    pub = Uint8Array.from(k);
  } else if (k && k.kind === 'private') return k.publicKey;
  else throw new InvalidArgumentError('expected a public key (cfk1.… text or 32 bytes) or a private key');
  // Verifiers refuse every signature by such a key (spec §3.0): refuse to trust, issue or delegate to one.
  if (isWeakPublicKey(pub)) throw new InvalidArgumentError('not a usable Ed25519 public key (small-order point or non-canonical encoding)');
  return pub;
}
