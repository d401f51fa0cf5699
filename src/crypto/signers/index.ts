/** capframe/crypto signers: where an authority's key lives (key file, WebCrypto, PKCS#11, AWS KMS, GCP KMS). */
export { webCryptoSigner, generateWebCryptoSigner } from './webcrypto.ts';
export { pkcs11Signer, generatePkcs11Key, type Pkcs11Options, type Pkcs11Signer } from './pkcs11.ts';
export { awsKmsSigner, AWS_KMS_MAX_MESSAGE, type AwsKmsOptions, type AwsKmsClientLike } from './aws-kms.ts';
export { gcpKmsSigner, GCP_KMS_MAX_MESSAGE, type GcpKmsOptions, type GcpKmsClientLike } from './gcp-kms.ts';
export { signerFromUri, signerFromConfig, parseSignerUri, type SignerContext, type SignerConfig, type SignerSpec, type OpenedSigner } from './from-uri.ts';
