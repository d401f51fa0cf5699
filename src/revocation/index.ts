/**
 * capframe/revocation: the registry (SQLite or PostgreSQL), signed snapshots
 * and deltas, the verifier-side check, and the HTTP push and sync
 * (docs/spec.md §10).
 */
export {
  RevocationRegistry,
  DEFAULT_DB_PATH,
  type RegistryOptions,
  type RevokeOptions,
  type RevokeResult,
  type RegistryView,
  type RevokedIdRow,
  type RegistrySource,
} from './registry.ts';
export { PgRevocationRegistry, type PgRegistryOptions } from './pg-registry.ts';
export { openRegistry, type AnyRegistry, type OpenRegistryOptions } from './open-registry.ts';
export {
  buildSnapshot,
  parseSnapshot,
  type SnapshotContent,
  type ParsedSnapshot,
  type SignedSnapshot,
  type BloomParams,
  type ParseOptions,
} from './snapshot.ts';
export { buildDelta, parseDelta, type DeltaContent, type ParsedDelta, type SignedDelta } from './delta.ts';
export { SnapshotPublisher, exportSnapshot, type PublisherOptions } from './publisher.ts';
export { RevocationState, loadSnapshotCheck, type RevocationStateOptions, type RevocationScope, type LoadSnapshotOptions, type UpdateResult } from './state.ts';
export { createRevocationHandler, startRevocationServer, type RevocationHandler, type RevocationHandlerOptions, type RevocationServer } from './server.ts';
export { RevocationSync, type RevocationSyncOptions } from './sync.ts';
