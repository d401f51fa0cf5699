/**
 * A Signer over a Google Cloud KMS key version (algorithm EC_SIGN_ED25519) through the
 * official client `@google-cloud/kms`, an optional peer loaded only when such a signer is
 * made. asymmetricSign with `data` (the message itself, no digest): pure Ed25519.
 * Credentials come from Application Default Credentials. IAM: cloudkms.cryptoKeyVersions.
 * viewPublicKey (once, at start) and cloudkms.cryptoKeyVersions.useToSign on the version
 * (role roles/cloudkms.signerVerifier has both).
 */
import { ConfigError, InvalidArgumentError, TooLargeError } from '../../errors.ts';
import type { Signer } from '../signer.ts';
import { checkedSigner, ed25519FromSpki, startupError } from './checked.ts';

/** Cloud KMS signs `data` of at most 64 KiB. */
export const GCP_KMS_MAX_MESSAGE = 64 * 1024;

const VERSION_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+\/cryptoKeyVersions\/[^/]+$/;

/** The part of KeyManagementServiceClient this signer uses. */
export interface GcpKmsClientLike {
  getPublicKey(request: { name: string }): Promise<unknown>;
  asymmetricSign(request: { name: string; data: Uint8Array }): Promise<unknown>;
}

export interface GcpKmsOptions {
  /** projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V */
  name: string;
  /** Options for a new KeyManagementServiceClient (apiEndpoint, fallback, credentials…). */
  clientOptions?: Record<string, unknown>;
  /** A client made by the caller: clientOptions is then unused. */
  client?: GcpKmsClientLike;
}

export async function gcpKmsSigner(o: GcpKmsOptions): Promise<Signer> {
  if (!o || typeof o.name !== 'string' || !VERSION_NAME.test(o.name)) {
    throw new InvalidArgumentError('gcpkms: the key is named projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V');
  }
  let client = o.client;
  if (!client) {
    let kms: typeof import('@google-cloud/kms');
    try {
      kms = await import('@google-cloud/kms');
    } catch {
      throw new ConfigError('a gcpkms: signer needs the optional package @google-cloud/kms (npm install @google-cloud/kms@4)');
    }
    const Client = (kms.KeyManagementServiceClient ?? (kms as unknown as { default: typeof kms }).default.KeyManagementServiceClient) as new (
      opts?: Record<string, unknown>,
    ) => GcpKmsClientLike;
    client = new Client(o.clientOptions ?? {});
  }
  const c = client;
  const what = `gcpkms key ${o.name}`;
  const [info] = (await c.getPublicKey({ name: o.name }).catch((e: unknown) => Promise.reject(startupError(what, e)))) as [
    { pem?: string; algorithm?: string | number },
  ];
  if (info?.algorithm !== 'EC_SIGN_ED25519') throw new ConfigError(`${what} has algorithm ${String(info?.algorithm)}, not EC_SIGN_ED25519`);
  if (typeof info.pem !== 'string') throw new ConfigError(`${what}: getPublicKey returned no PEM`);
  const publicKey = ed25519FromSpki(info.pem, what);
  return checkedSigner(
    publicKey,
    async (message) => {
      if (message.length > GCP_KMS_MAX_MESSAGE) {
        throw new TooLargeError(`${what}: Cloud KMS signs at most ${GCP_KMS_MAX_MESSAGE} bytes of data; this one is ${message.length}`);
      }
      const [out] = (await c.asymmetricSign({ name: o.name, data: message })) as [{ signature?: Uint8Array | string }];
      const sig = out?.signature;
      if (typeof sig === 'string') return new Uint8Array(Buffer.from(sig, 'base64'));
      if (!(sig instanceof Uint8Array)) throw new ConfigError(`${what}: asymmetricSign returned no signature`);
      return sig;
    },
    what,
  );
}
