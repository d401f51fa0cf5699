/**
 * A Signer around a key held elsewhere (HSM, cloud KMS): its public key is read once, and
 * every signature it returns is checked against that key before anyone uses it, so a
 * misconfigured key id, a rotated key version or a corrupted answer fails here
 * (ERR_SIGNATURE_INVALID) instead of minting tokens no verifier accepts.
 */
import { CapframeError, ConfigError, InvalidArgumentError, SignatureInvalidError, UnavailableError } from '../../errors.ts';
import { defaultBackend } from '../default.ts';
import { keyId } from '../keys.ts';
import type { Signer } from '../signer.ts';
import { isWeakPublicKey } from '../weak.ts';

/** SubjectPublicKeyInfo DER of an Ed25519 key (RFC 8410): this prefix, then the 32 raw bytes. */
export const ED25519_SPKI_PREFIX = Uint8Array.from(Buffer.from('302a300506032b6570032100', 'hex'));

/** The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo (DER bytes or PEM text). */
export function ed25519FromSpki(spki: Uint8Array | string, what: string): Uint8Array {
  let der: Uint8Array;
  if (typeof spki === 'string') {
    const m = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----\s*$/.exec(spki.trim());
    if (!m) throw new InvalidArgumentError(`${what}: the public key is not a PEM "PUBLIC KEY"`);
    der = new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  } else der = spki;
  if (der.length !== 44 || !Buffer.from(der.subarray(0, 12)).equals(Buffer.from(ED25519_SPKI_PREFIX))) {
    throw new InvalidArgumentError(`${what}: the key is not an Ed25519 key`);
  }
  return Uint8Array.from(der.subarray(12));
}

/**
 * A frozen Signer over `rawSign`: checks each answer (64 bytes, verifies under `publicKey`);
 * a failure of `rawSign` that is no CapframeError becomes ERR_UNAVAILABLE naming `what`.
 */
export function checkedSigner(publicKey: Uint8Array, rawSign: (message: Uint8Array) => Promise<Uint8Array>, what: string): Signer {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || isWeakPublicKey(publicKey)) {
    throw new InvalidArgumentError(`${what}: not a usable Ed25519 public key`);
  }
  const pub = Uint8Array.from(publicKey);
  const backend = defaultBackend();
  return Object.freeze({
    publicKey: pub,
    kid: keyId(pub),
    async sign(message: Uint8Array): Promise<Uint8Array> {
      if (!(message instanceof Uint8Array)) throw new InvalidArgumentError('a Signer signs bytes');
      let sig: Uint8Array;
      try {
        sig = await rawSign(message);
      } catch (e) {
        if (e instanceof CapframeError) throw e;
        throw new UnavailableError(`${what}: signing failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!(sig instanceof Uint8Array) || sig.length !== 64 || !backend.verify(pub, message, sig)) {
        throw new SignatureInvalidError(`${what} returned a signature that does not verify under its public key`);
      }
      return Uint8Array.from(sig);
    },
  });
}

/**
 * What a failure to read a remote key's public half means: the key is missing, disabled or
 * not ours to use (ERR_CONFIG), or the service did not answer (ERR_UNAVAILABLE).
 */
export function startupError(what: string, e: unknown): Error {
  if (e instanceof CapframeError) return e;
  const x = e as { name?: string; code?: unknown; message?: string };
  const text = `${x?.name ?? ''} ${String(x?.code ?? '')}`;
  const msg = `${what}: ${x?.message ?? String(e)}`;
  // AWS error types; gRPC status codes 3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 9 FAILED_PRECONDITION, 16 UNAUTHENTICATED.
  if (/NotFound|AccessDenied|Disabled|InvalidKeyUsage|InvalidState|InvalidArn|Unrecognized|Validation|\b(3|5|7|9|16)\b/.test(text)) return new ConfigError(msg);
  return new UnavailableError(msg);
}
