/** The revocation endpoints' paths (docs/spec.md §10.7, §10.9), shared by the handler and the sync client. */
export const SNAPSHOT_PATH = '/v1/revocations';
export const STREAM_PATH = '/v1/revocations/stream';
/** GET: the signed compact form (`cfrb1.`). */
export const BLOOM_PATH = '/v1/revocations/bloom';
/** POST {"ids": [hex]}: which of these block ids are revoked (confirms compact-form hits). */
export const CHECK_PATH = '/v1/revocation/check';
