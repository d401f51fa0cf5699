/**
 * A Signer over an AWS KMS key (KeySpec ECC_NIST_EDWARDS25519, KeyUsage SIGN_VERIFY) through
 * the official client `@aws-sdk/client-kms`, an optional peer loaded only when such a signer
 * is made. Signs with ED25519_SHA_512 over the message itself (MessageType RAW): pure
 * Ed25519, the signature any verifier checks. Credentials and region come from the SDK's
 * usual chain (environment, profile, instance or task role). IAM: kms:GetPublicKey (once,
 * at start) and kms:Sign on the key.
 */
import { ConfigError, InvalidArgumentError, TooLargeError } from '../../errors.ts';
import type { Signer } from '../signer.ts';
import { checkedSigner, ed25519FromSpki, startupError } from './checked.ts';

/** KMS signs a RAW message of at most 4096 bytes. */
export const AWS_KMS_MAX_MESSAGE = 4096;

/** The part of KMSClient this signer uses (a KMSClient, or anything with its `send`). */
export interface AwsKmsClientLike {
  send(command: unknown): Promise<unknown>;
}

export interface AwsKmsOptions {
  /** Key id, key ARN, alias name (alias/…) or alias ARN. */
  keyId: string;
  /** Region (default: the SDK's chain, e.g. AWS_REGION). */
  region?: string;
  /** Endpoint override (a VPC endpoint, a FIPS endpoint, a local stand-in). */
  endpoint?: string;
  /** More options for the new KMSClient (credentials, retries…). */
  clientOptions?: Record<string, unknown>;
  /** A client made by the caller (its own credentials, retries, proxy): region, endpoint and clientOptions are then unused. */
  client?: AwsKmsClientLike;
}

export async function awsKmsSigner(o: AwsKmsOptions): Promise<Signer> {
  if (!o || typeof o.keyId !== 'string' || o.keyId === '') throw new InvalidArgumentError('awskms: the key id is required');
  let sdk: typeof import('@aws-sdk/client-kms');
  try {
    sdk = await import('@aws-sdk/client-kms');
  } catch {
    throw new ConfigError('an awskms: signer needs the optional package @aws-sdk/client-kms (npm install @aws-sdk/client-kms)');
  }
  const client: AwsKmsClientLike =
    o.client ??
    new sdk.KMSClient({
      ...o.clientOptions,
      ...(o.region !== undefined ? { region: o.region } : {}),
      ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    });
  const what = `awskms key ${o.keyId}`;
  const info = (await client.send(new sdk.GetPublicKeyCommand({ KeyId: o.keyId })).catch((e: unknown) => Promise.reject(startupError(what, e)))) as {
    PublicKey?: Uint8Array;
    KeySpec?: string;
    KeyUsage?: string;
    SigningAlgorithms?: string[];
  };
  if (info.KeySpec !== 'ECC_NIST_EDWARDS25519') throw new ConfigError(`${what} is ${info.KeySpec ?? 'of no key spec'}, not ECC_NIST_EDWARDS25519`);
  if (info.KeyUsage !== undefined && info.KeyUsage !== 'SIGN_VERIFY') throw new ConfigError(`${what} has key usage ${info.KeyUsage}, not SIGN_VERIFY`);
  if (info.SigningAlgorithms !== undefined && !info.SigningAlgorithms.includes('ED25519_SHA_512')) {
    throw new ConfigError(`${what} does not offer ED25519_SHA_512`);
  }
  if (!(info.PublicKey instanceof Uint8Array)) throw new ConfigError(`${what}: GetPublicKey returned no key`);
  const publicKey = ed25519FromSpki(info.PublicKey, what);
  return checkedSigner(
    publicKey,
    async (message) => {
      if (message.length > AWS_KMS_MAX_MESSAGE) {
        throw new TooLargeError(`${what}: KMS signs at most ${AWS_KMS_MAX_MESSAGE} bytes as a RAW message; this one is ${message.length}`);
      }
      const out = (await client.send(new sdk.SignCommand({ KeyId: o.keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }))) as {
        Signature?: Uint8Array;
      };
      if (!(out.Signature instanceof Uint8Array)) throw new ConfigError(`${what}: Sign returned no signature`);
      return out.Signature;
    },
    what,
  );
}
