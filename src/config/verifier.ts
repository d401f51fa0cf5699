/**
 * The in-process Verifier a config describes (`trust:` and `replay:`), shared
 * by every integration that verifies where it runs (the LangChain guard, the
 * MCP server guard), so that none of them quietly drops a section.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { systemClock, type Clock } from '../clock.ts';
import { DEFAULTS } from '../token/limits.ts';
import type { ReplayStore } from '../verify/replay.ts';
import { openReplayStore } from '../verify/replay-open.ts';
import { Verifier, type RevocationCheck } from '../verify/verifier.ts';
import type { CapframeConfig } from './parse.ts';

export interface VerifierBuildOptions {
  readonly clock?: Clock;
  readonly backend?: Ed25519Backend;
  /** Use this replay store instead of the one the `replay:` section names. */
  readonly replay?: ReplayStore;
  readonly revocation?: RevocationCheck;
  /**
   * For a long-lived server that others send signed proofs to: when its
   * replay store does not survive a restart, refuse proofs issued before this
   * start plus the clock skew (the process it replaces may have accepted them).
   */
  readonly refuseProofsBeforeStart?: boolean;
}

/** The replay store of the `replay:` section, or undefined when there is none (the Verifier's default memory store). */
export function replayStoreOf(config: CapframeConfig): ReplayStore | undefined {
  return config.replay
    ? openReplayStore(
        config.replay.store === 'memory' && config.replay.capacity === undefined && config.replayCacheSize !== undefined
          ? { ...config.replay, capacity: config.replayCacheSize }
          : config.replay,
      )
    : undefined;
}

export function verifierFromConfig(config: CapframeConfig, o: VerifierBuildOptions = {}): Verifier {
  const replay = o.replay ?? replayStoreOf(config);
  const persistent = replay?.persistent === true;
  const skew = config.clockSkew ?? DEFAULTS.clockSkew;
  return new Verifier({
    trusted: config.trusted,
    ...(config.clockSkew !== undefined ? { clockSkew: config.clockSkew } : {}),
    ...(config.invocationWindow !== undefined ? { invocationWindow: config.invocationWindow } : {}),
    ...(replay ? { replay } : config.replayCacheSize !== undefined ? { replayCapacity: config.replayCacheSize } : {}),
    ...(o.revocation ? { revocation: o.revocation } : {}),
    ...(o.refuseProofsBeforeStart && !persistent ? { issuedAfter: (o.clock ?? systemClock)() + skew } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.backend ? { backend: o.backend } : {}),
  });
}
