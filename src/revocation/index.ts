/**
 * capframe/revocation: the registry (SQLite or PostgreSQL), signed snapshots
 * and deltas, and the verifier-side check (docs/spec.md §10). The HTTP side
 * lives with the other HTTP code: serving snapshots and the push stream in
 * capframe/server, keeping a verifier in sync in capframe/remote.
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
  buildSnapshotWith,
  parseSnapshot,
  type SnapshotContent,
  type ParsedSnapshot,
  type SignedSnapshot,
  type BloomParams,
  type ParseOptions,
} from './snapshot.ts';
export { buildDelta, buildDeltaWith, parseDelta, type DeltaContent, type ParsedDelta, type SignedDelta } from './delta.ts';
export { buildBloomForm, parseBloomForm, type BloomFormContent, type ParsedBloomForm, type SignedBloomForm, type BloomFilterBits } from './bloom.ts';
export { BloomRevocationState, type BloomRevocationStateOptions, type ConfirmFn, type ConfirmAnswer } from './bloom-state.ts';
export { SnapshotPublisher, exportSnapshot, exportSnapshotWith, type PublisherOptions } from './publisher.ts';
export { RevocationState, loadSnapshotCheck, type RevocationStateOptions, type RevocationScope, type LoadSnapshotOptions, type UpdateResult } from './state.ts';
