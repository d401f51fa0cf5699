/** capframe/authority: issuing through an async Signer, and the signed requests of the authority service (docs/spec.md §16). */
export { issueTokenWithSigner, type IssueWithSignerOptions } from './issue-signer.ts';
export { createRequest, openRequest, type AuthorityRequest, type CreateRequestOptions, type RequestKind, type SignedAuthorityRequest } from './request.ts';
export { EnrolmentStore, newEnrolmentCode, codeDigest, type Agent, type EnrolInput, type EnrolResult } from './enrolments.ts';
