/**
 * capframe: capability tokens at the tool boundary of LLM agents.
 *
 * The root export is the core: keys, issue, delegate, invoke (sign a call),
 * verify, inspect, and the errors. Integrations and services have their own
 * subpaths (docs/api.md): capframe/langchain, capframe/config,
 * capframe/remote, capframe/server, capframe/revocation, capframe/audit,
 * capframe/crypto. Everything not exported from one of them is internal.
 */

// keys
export {
  generateKey,
  importSeed,
  formatPublicKey,
  parsePublicKey,
  serializePrivateKey,
  parsePrivateKey,
  type PrivateKey,
  type PublicKeyInput,
} from './crypto/keys.ts';
export { Keyring } from './verify/keyring.ts';

// issue, delegate, invoke
export { issueToken, issueTokenWith, type IssueOptions, type RootTokenOptions } from './authority/issue.ts';
export { delegate, type DelegateOptions } from './holder/delegate.ts';
export { createInvocation, type InvocationOptions } from './holder/invoke.ts';
export { signApproval, approveRequest, type ApprovalCall, type ApprovalOptions } from './authority/approve.ts';

// the wire format
export { Token } from './token/token.ts';
export { Invocation } from './token/invocation.ts';
export { Approval } from './token/approval.ts';
export type { ApprovalRequest } from './token/approval-request.ts';
export type { ApprovalInput } from './verify/approvals.ts';
export { argsDigest } from './token/args.ts';
export type { Grant } from './token/block.ts';
export type { Constraint, Constraints, Scalar } from './token/constraints.ts';
export type { Chain, ChainBlock } from './token/chain.ts';

// verify
export {
  Verifier,
  type VerifierOptions,
  type Decision,
  type Allowed,
  type Denied,
  type LocalCall,
  type ExpectedCall,
  type RevocationCheck,
  type TokenInput,
} from './verify/verifier.ts';
export type { EffectiveGrant } from './verify/rules.ts';
export type { ReplayStore } from './verify/replay.ts';
export { MemoryLimitStore, type LimitStore, type LimitCharge } from './verify/limits.ts';
export type { RateLimit, BudgetLimit } from './token/grant-limits.ts';

// inspect (decodes for humans; does not verify)
export { inspect, type Inspection, type InspectedBlock } from './token/inspect.ts';

// errors: `errors.ExpiredError`, ...; `CapframeError` is the base of all of them
export * as errors from './errors.ts';
export { CapframeError, type ErrorCode } from './errors.ts';
export type { Clock } from './clock.ts';
