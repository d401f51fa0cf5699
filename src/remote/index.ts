/** capframe/remote: the client of a capframe verification service (`capframe serve`). */
export { RemoteVerifier, remoteVerifierFromConfig, type RemoteVerifierOptions } from './client.ts';
export type { CallVerifier, CallSigner } from '../verify/call-verifier.ts';
export { RevocationSync, type RevocationSyncOptions } from './revocation-sync.ts';
export { revocationConfirmer, type ConfirmOptions } from './revocation-confirm.ts';
export { beginSession, ClientSession, type BeginSessionOptions, type PendingSession, type SealedCall, type SessionOpenText } from './session-client.ts';
export { AuthorityClient, type AuthorityClientOptions, type ObtainedToken } from './authority-client.ts';
export { TokenRenewer, isTokenSource, type TokenRenewerOptions, type TokenSource } from './token-renewer.ts';
