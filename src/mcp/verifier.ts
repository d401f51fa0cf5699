/**
 * The Verifier an MCP guard builds from a capframe config: the same trust,
 * replay and revocation settings as the capframe service of the deployment.
 *
 *  - trust: and replay: as every in-process verifier (config/verifier.ts);
 *    `replay: redis` (or sqlite) makes several servers accept a proof once.
 *  - revocation: the service named by `remote:` publishes the signed list
 *    (GET /v1/revocations and its push stream); the guard keeps a copy fresh
 *    with RevocationSync and checks every call against it. Until the first
 *    list arrives, and whenever it is older than its maxAge, every call is
 *    denied (ERR_REVOCATION_STALE): a server that cannot learn revocations
 *    does not act as if there were none. `remote.revocation: none` says the
 *    service keeps no list.
 *  - a config that has a revocation registry (`server.revocation`) but does
 *    not name the service (`remote:`) is refused (ERR_CONFIG): the guard
 *    would have no way to learn what the registry revokes.
 *
 * The guard verifies in process even when the config has `remote:`: the
 * service is only where the revocation list comes from.
 */
import { ConfigError } from '../errors.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { replayStoreOf, verifierFromConfig } from '../config/verifier.ts';
import { RevocationState } from '../revocation/index.ts';
import { RevocationSync } from '../remote/revocation-sync.ts';
import type { Verifier } from '../verify/verifier.ts';

export interface ConfigVerifier {
  readonly verifier: Verifier;
  /** Resolves once the first revocation list was fetched or failed (immediately without a revocation source). Never rejects. */
  readonly ready: Promise<void>;
  /** Stops the revocation sync and closes the replay store this built. */
  close(): Promise<void>;
}

export function mcpVerifierFromConfig(config: CapframeConfig): ConfigVerifier {
  const remote = config.remote;
  const syncs = remote !== undefined && remote.revocation !== 'none';
  if (config.server?.revocation && !syncs) {
    throw new ConfigError(
      `${config.file}: server.revocation: the MCP guard learns revocations from the capframe service; name it in remote: (url), or pass a verifier with a revocation source`,
    );
  }
  const replay = replayStoreOf(config);
  let sync: RevocationSync | undefined;
  let verifier: Verifier;
  try {
    const state = syncs ? new RevocationState({ trusted: config.trusted }) : undefined;
    // Failures show as a stale list, and a stale list denies: nothing to log here.
    sync = state ? new RevocationSync({ url: remote!.url, state, onError: () => {} }) : undefined;
    verifier = verifierFromConfig(config, { ...(replay ? { replay } : {}), ...(state ? { revocation: state } : {}) });
  } catch (e) {
    void Promise.resolve(replay?.close?.()).catch(() => {});
    throw e;
  }
  const ready = sync
    ? sync.start().then(
        () => undefined,
        () => undefined,
      )
    : Promise.resolve();
  return {
    verifier,
    ready,
    async close() {
      sync?.stop();
      await replay?.close?.();
    },
  };
}
