/** capframe/crypto: the Ed25519 backends a Verifier or signer can use (node:crypto is the default). */
export { nodeBackend } from './node.ts';
export { nobleBackend } from './noble.ts';
export type { Ed25519Backend } from './backend.ts';
export { keyId, kidToString } from './keys.ts';
export { keySigner, type Signer } from './signer.ts';
export {
  webCryptoSigner,
  generateWebCryptoSigner,
  pkcs11Signer,
  generatePkcs11Key,
  awsKmsSigner,
  gcpKmsSigner,
  AWS_KMS_MAX_MESSAGE,
  GCP_KMS_MAX_MESSAGE,
  signerFromUri,
  signerFromConfig,
  parseSignerUri,
  type Pkcs11Options,
  type Pkcs11Signer,
  type AwsKmsOptions,
  type AwsKmsClientLike,
  type GcpKmsOptions,
  type GcpKmsClientLike,
  type SignerContext,
  type SignerConfig,
  type SignerSpec,
  type OpenedSigner,
} from './signers/index.ts';
