/** capframe/authority: the signed requests and enrolments of the authority service (docs/spec.md §16). Issuing through a Signer: `issueTokenWith` from `capframe`. */
export { createRequest, openRequest, type AuthorityRequest, type CreateRequestOptions, type RequestKind, type SignedAuthorityRequest } from './request.ts';
export { EnrolmentStore, newEnrolmentCode, codeDigest, type Agent, type EnrolInput, type EnrolResult } from './enrolments.ts';
