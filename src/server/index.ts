/** capframe/server: the verification service (`capframe serve`) as a library. */
export { startService, type RunningService, type StartOverrides } from './start.ts';
export { createVerifyService, type VerifyService, type VerifyServiceOptions } from './service.ts';
export { ApprovalInbox, approvalCallId, type ApprovalInboxOptions, type PendingApproval } from './approval-inbox.ts';
export {
  SessionTable,
  type SessionTableOptions,
  type SessionCall,
  type SessionAnswer,
  type SessionOpenRequest,
  type SessionOpenAnswer,
} from '../verify/session-table.ts';
export {
  createRevocationHandler,
  startRevocationServer,
  type RevocationHandler,
  type RevocationHandlerOptions,
  type RevocationServer,
} from './revocation-feed.ts';
export { createAuthority, type Authority, type AuthorityOptions, type IssuedToken, type AuthorityCounters } from './authority.ts';
export { authorityRoutes } from './routes/authority.ts';
export { createConsole, type Console, type ConsoleOptions } from './console/index.ts';
