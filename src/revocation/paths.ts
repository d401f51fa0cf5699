/** The revocation endpoints' paths (docs/spec.md §10.7), shared by the handler and the sync client. */
export const SNAPSHOT_PATH = '/v1/revocations';
export const STREAM_PATH = '/v1/revocations/stream';
