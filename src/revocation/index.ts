/** Revocation: registry, signed snapshots, the verifier-side check, HTTP push and sync (docs/spec.md §10). */
export {
  RevocationRegistry, DEFAULT_DB_PATH, SCHEMA_VERSION,
  type RegistryOptions, type RevokeOptions, type RevokeResult, type RegistryView, type RevokedIdRow, type RegistrySource,
} from './registry.ts';
export { PgRevocationRegistry, DEFAULT_PG_SCHEMA, type PgRegistryOptions } from './pg-registry.ts';
export { openRegistry, isPostgresUrl, type AnyRegistry, type OpenRegistryOptions } from './open-registry.ts';
export {
  buildSnapshot, parseSnapshot, signSnapshot, SNAPSHOT_PREFIX, MAX_SNAPSHOT_BYTES, DEFAULT_BLOOM_ERROR_RATE,
  type SnapshotContent, type ParsedSnapshot, type SignedSnapshot, type BloomParams, type ParseOptions,
} from './snapshot.ts';
export { buildDelta, parseDelta, DELTA_PREFIX, type DeltaContent, type ParsedDelta, type SignedDelta } from './delta.ts';
export { SnapshotPublisher, exportSnapshot, type PublisherOptions } from './publisher.ts';
export {
  RevocationState, loadSnapshotCheck, DEFAULT_MAX_AGE,
  type RevocationStateOptions, type RevocationScope, type LoadSnapshotOptions, type UpdateResult,
} from './state.ts';
export {
  createRevocationHandler, startRevocationServer, SNAPSHOT_PATH, STREAM_PATH,
  type RevocationHandler, type RevocationHandlerOptions, type RevocationServer,
} from './server.ts';
export { RevocationSync, type RevocationSyncOptions } from './sync.ts';
