/** Hard limits of the wire format (docs/spec.md §7). Verifiers may lower, never raise, them. */
export const LIMITS = Object.freeze({
  /** Largest token accepted, in bytes (binary form). */
  maxTokenBytes: 16 * 1024,
  /** Largest invocation proof accepted, in bytes. */
  maxInvocationBytes: 4 * 1024,
  /** Largest batched invocation proof (§4.4) accepted, in bytes: one item payload plus its batch. */
  maxBatchedInvocationBytes: 8 * 1024,
  /** Most items in one invocation batch (§4.4). */
  maxInvocationBatch: 64,
  /** Largest number of delegation blocks after the root. */
  maxDepth: 8,
  maxGrantsPerBlock: 16,
  maxPermissionsPerGrant: 16,
  maxConstraintsPerGrant: 16,
  maxOneOfValues: 64,
  /** Longest resource pattern or concrete resource, in bytes. */
  maxResourceBytes: 1024,
  /** Longest subject, tool name, permission, argument name, call id or constraint string, in bytes. */
  maxStringBytes: 256,
  /** Longest invocation proof lifetime (exp - iat), in seconds. */
  maxInvocationWindow: 300,
  /** Largest value of a block's maximum delegation depth field. */
  maxDepthField: 255,
});

export const DEFAULTS = Object.freeze({
  clockSkew: 30,
  invocationWindow: 30,
  chainCacheSize: 1024,
  blockCacheSize: 4096,
  replayCapacity: 200_000,
});
