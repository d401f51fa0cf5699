/**
 * capframe: capability tokens for the tool boundary of LLM agents.
 * The public API; everything not exported here is internal.
 */
export * from './errors.ts';
export type { Clock } from './clock.ts';
export { systemClock } from './clock.ts';
export { parseDuration } from './duration.ts';

// keys and crypto backends
export type { Ed25519Backend } from './crypto/backend.ts';
export { nodeBackend } from './crypto/node.ts';
export { nobleBackend } from './crypto/noble.ts';
export {
  generateKey, importSeed, keyId, kidToString, formatPublicKey, parsePublicKey,
  serializePrivateKey, parsePrivateKey, type PrivateKey,
} from './crypto/keys.ts';

// wire format
export { Token } from './token/token.ts';
export { Invocation } from './token/invocation.ts';
export type { Grant } from './token/block.ts';
export type { Constraint, Constraints, Scalar } from './token/constraints.ts';
export { canonicalJson, argsDigest } from './token/args.ts';
export { normalizeResource } from './token/resource.ts';
export { inspect, type Inspection, type InspectedBlock } from './token/inspect.ts';
export { LIMITS, DEFAULTS } from './token/limits.ts';

// authority, holder, verifier
export { Keyring, type PublicKeyInput } from './verify/keyring.ts';
export { issueToken, type IssueOptions } from './authority/issue.ts';
export { delegate, type DelegateOptions } from './holder/delegate.ts';
export { createInvocation, createInvocationBatch, type BatchCall, type InvocationBatchOptions, type InvocationOptions } from './holder/invoke.ts';
export {
  Verifier,
  type VerifierOptions, type Decision, type Allowed, type Denied, type LocalCall, type ExpectedCall,
  type RevocationCheck, type TokenInput,
} from './verify/verifier.ts';
export type { Chain, ChainBlock } from './token/chain.ts';
export type { EffectiveGrant } from './verify/rules.ts';
export { MemoryReplayStore, type ReplayStore } from './verify/replay.ts';

// remote verification (capframe serve) and the audit log
export { RemoteVerifier, remoteVerifierFromConfig, type RemoteVerifierOptions } from './remote/client.ts';
export { remoteConfigSchema, type RemoteConfig } from './config/remote.ts';
export { AuditLog, verifyAuditLog, type AuditLogOptions, type AuditVerifyResult, type AuditProblem, type AuditRecord, type AuditEvent } from './audit/index.ts';
