/** capframe/crypto: the Ed25519 backends a Verifier or signer can use (node:crypto is the default). */
export { nodeBackend } from './node.ts';
export { nobleBackend } from './noble.ts';
export type { Ed25519Backend } from './backend.ts';
export { keyId, kidToString } from './keys.ts';
export { keySigner, type Signer } from './signer.ts';
