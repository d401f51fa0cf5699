/**
 * Revocation inside the verification service, mounted on its router:
 *
 *   GET  /v1/revocations, /v1/revocations/stream   createRevocationHandler (./revocation-feed.ts: signed snapshot, SSE push)
 *   POST /v1/revoke                                 admin only (bearer secret, checked by the service):
 *        {"token": "cft1.…"}            the token's tip block and everything derived from it
 *        {"id": "<32 hex>"}             one block id
 *        {"subject": "agent:x"}         every token naming this subject
 *        {"kid": "<base64url>", "before": <unix s>}   every token of that key issued before
 *        each with an optional "reason"
 *   /v1/verify                                      checks every chain against the same signed snapshot
 *
 * The service's verifier holds a RevocationState fed with the publisher's
 * snapshot: at start, synchronously on every change made through this
 * process (so a revoke is in force before its 200 is sent), and by polling
 * the registry version each second (changes made by other processes, e.g.
 * `capframe revoke` on the same database), re-signed before it goes stale.
 */
import { z } from 'zod';
import { ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { kidToString, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';
import { equalBytes } from '../crypto/hash.ts';
import { Keyring } from '../verify/keyring.ts';
import { createRevocationHandler, type RevocationHandler } from './revocation-feed.ts';
import { RevocationState } from '../revocation/index.ts';
import type { AnyRegistry } from '../revocation/open-registry.ts';
import type { RevokeFn, RouteHandler } from './service.ts';
import type { RevocationLookup } from './routes/revocation-check.ts';

export const revokeRequestSchema = z.union([
  z.strictObject({ token: z.string().min(6).max(30_000), reason: z.string().max(500).optional() }),
  z.strictObject({ id: z.string().regex(/^[0-9a-fA-F]{32}$/), reason: z.string().max(500).optional() }),
  z.strictObject({ subject: z.string().min(1).max(256), reason: z.string().max(500).optional() }),
  z.strictObject({ kid: z.string().regex(/^[A-Za-z0-9_-]{11}$/), before: z.number().int().min(0), reason: z.string().max(500).optional() }),
]);

export interface ServiceRevocationOptions {
  readonly registry: AnyRegistry;
  /** The authority private key that signs snapshots (its public key must be trusted). */
  readonly key: PrivateKey;
  readonly trusted: Keyring | readonly PublicKeyInput[];
  /** Seconds a snapshot stays usable (RevocationState maxAge). Default 300. */
  readonly maxAge?: number;
  /** Authority keys (or key ids) whose chains this registry's snapshots speak for. Default: every trusted key. */
  readonly covers?: readonly (PublicKeyInput | string)[];
  /** Registry polling interval, ms. Default 1000. */
  readonly pollMs?: number;
}

export interface ServiceRevocation {
  readonly handler: RevocationHandler & RouteHandler;
  readonly revoke: RevokeFn;
  /** Give it to the service's Verifier as `revocation`. */
  readonly state: RevocationState;
  /** POST /v1/revocation/check: which ids the exact list holds (ERR_UNAVAILABLE while it is stale). */
  readonly lookup: RevocationLookup;
  close(): void;
}

export function serviceRevocation(o: ServiceRevocationOptions): ServiceRevocation {
  // The service's own state must never go stale between re-signatures: re-sign well within maxAge.
  const resignAfter = o.maxAge !== undefined ? Math.max(1, Math.min(60, Math.floor(o.maxAge / 2))) : undefined;
  const handler = createRevocationHandler({ registry: o.registry, key: o.key, ...(resignAfter !== undefined ? { resignAfter } : {}) });
  const keyring = o.trusted instanceof Keyring ? o.trusted : new Keyring(o.trusted);
  if (!keyring.get(o.key.kid) || !equalBytes(keyring.get(o.key.kid)!, o.key.publicKey)) {
    handler.close();
    throw new ConfigError('the revocation signing key is not one of the trusted authority keys');
  }
  // The service's registry records revocations of any chain the service trusts, so its
  // snapshots speak for all of them (unless the config names a narrower set).
  const covers = o.covers ?? keyring.kids();
  const state = new RevocationState({
    trusted: keyring,
    scopes: [{ signer: o.key.publicKey, covers }],
    ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
  });
  const signer = kidToString(o.key.kid);
  const sync = (): void => {
    try {
      const p = handler.publisher;
      p.refresh();
      // Deltas when they chain from what the state holds (a few hundred bytes each), else the snapshot.
      const held = state.versionOf(signer);
      const deltas = held >= 0 ? p.deltasSince(held) : undefined;
      if (deltas !== undefined && deltas.every((d) => state.applyDelta(d.text).outcome !== 'gap') && state.versionOf(signer) === p.version) return;
      state.update(p.current().text);
    } catch (e) {
      process.stderr.write(`capframe serve: revocation snapshot update failed: ${(e as Error).message}\n`);
    }
  };
  sync();
  const onChange = (): void => sync();
  o.registry.on('change', onChange);
  const resignEvery = Math.max(1, Math.floor(handler.publisher.resignAfter / 2)) * 1000;
  let lastResign = Date.now();
  const timer = setInterval(() => {
    if (o.registry.version !== state.versionOf(signer) || Date.now() - lastResign >= resignEvery) {
      lastResign = Date.now();
      sync();
    }
  }, o.pollMs ?? 1000);
  timer.unref();

  const revoke: RevokeFn = async (body) => {
    const parsed = revokeRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new InvalidArgumentError('revoke takes {"token"}, {"id"}, {"subject"} or {"kid","before"}, with an optional "reason"');
    }
    const b = parsed.data;
    const opts = b.reason !== undefined ? { reason: b.reason } : {};
    // A token must verify against the trusted keys (as in `capframe revoke --token`): an
    // unverified one could name a forged expiry, and the registry lets snapshots drop a
    // revoked id once its recorded expiry is long past, reviving the real token.
    const r = await ('token' in b
      ? o.registry.revokeToken(b.token, { ...opts, trusted: state.keyring })
      : 'id' in b
        ? o.registry.revokeId(b.id.toLowerCase(), opts)
        : 'subject' in b
          ? o.registry.revokeSubject(b.subject, opts)
          : o.registry.revokeIssuedBefore(b.kid, b.before, opts));
    sync(); // in force before the answer, even if the change event is not emitted
    return { ok: true, changed: r.changed, version: r.version, target: r.target };
  };

  // Answers from the list the service itself decides with, and only while that list is current:
  // a stale list could miss a revocation, and "not revoked" from it would let a compact-form
  // verifier allow what the authority has revoked.
  const lookup: RevocationLookup = (ids) => {
    const iat = state.issuedAtOf(signer);
    const now = Math.floor(Date.now() / 1000);
    if (iat < 0 || now > iat + state.maxAge) throw new UnavailableError('the service holds no current revocation list');
    return { version: state.versionOf(signer), revoked: ids.filter((id) => state.isRevokedId(id)) };
  };

  return {
    handler: handler as RevocationHandler & RouteHandler,
    revoke,
    state,
    lookup,
    close() {
      clearInterval(timer);
      o.registry.off('change', onChange);
      handler.close();
    },
  };
}
