/**
 * The verifiers a Guard builds from a config: a local Verifier (trust:,
 * replay:), or a RemoteVerifier (remote:) whose `fallback: local` is built
 * from the same settings as the service it stands in for: the replay store
 * the service uses (shared), and the service's revocation list, kept fresh
 * from the service itself (GET /v1/revocations and its push stream) while it
 * is up. A fallback that cannot have both refuses to start (ERR_CONFIG); a
 * fallback whose list has gone stale (the service down longer than the
 * snapshot's maxAge) denies every call (ERR_REVOCATION_STALE).
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { Clock } from '../clock.ts';
import { Verifier, type RevocationCheck } from '../verify/verifier.ts';
import type { ReplayStore } from '../verify/replay.ts';
import { remoteVerifierFromConfig, type RemoteVerifier } from '../remote/client.ts';
import { RevocationState } from '../revocation/index.ts';
import { RevocationSync } from '../remote/revocation-sync.ts';
import { BloomRevocationState } from '../revocation/bloom-state.ts';
import { revocationConfirmer } from '../remote/revocation-confirm.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { replayStoreOf, verifierFromConfig } from '../config/verifier.ts';

export interface BuildOptions {
  readonly clock?: Clock;
  readonly backend?: Ed25519Backend;
}

export function localVerifierFromConfig(
  config: CapframeConfig,
  o: BuildOptions = {},
  extra: { replay?: ReplayStore; revocation?: RevocationCheck } = {},
): Verifier {
  return verifierFromConfig(config, { ...o, ...extra });
}

/** The RemoteVerifier of a `remote:` section, with its local fallback when the section asks for one. */
export function remoteVerifierWithFallback(config: CapframeConfig, o: BuildOptions = {}): RemoteVerifier {
  const remote = config.remote!;
  if (remote.fallback !== 'local') return remoteVerifierFromConfig(remote);
  const replay = replayStoreOf(config);
  let sync: RevocationSync | undefined;
  let state: RevocationState | BloomRevocationState | undefined;
  if (remote.revocation !== 'none' && remote.revocationForm === 'bloom') {
    // The compact form: filter hits are confirmed with the service, so while it is down a hit denies.
    state = new BloomRevocationState({
      trusted: config.trusted,
      confirm: revocationConfirmer({ url: remote.url, ...(remote.timeout !== undefined ? { timeoutMs: remote.timeout } : {}) }),
    });
    sync = new RevocationSync({ url: remote.url, state, onError: () => {} });
  } else if (remote.revocation !== 'none') {
    state = new RevocationState({ trusted: config.trusted });
    sync = new RevocationSync({ url: remote.url, state, onError: () => {} });
  }
  let client: RemoteVerifier;
  try {
    const fallback = localVerifierFromConfig(config, o, { ...(replay ? { replay } : {}), ...(state ? { revocation: state } : {}) });
    client = remoteVerifierFromConfig(remote, fallback, async () => {
      sync?.stop();
      await replay?.close?.();
    });
  } catch (e) {
    void Promise.resolve(replay?.close?.()).catch(() => {});
    throw e;
  }
  // Failures are the fallback's to report: a list it never got is stale, and stale denies.
  sync?.start().catch(() => {});
  return client;
}
