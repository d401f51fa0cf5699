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
 * With a `signer` (HSM, KMS) instead of a key, the same happens through the
 * publisher's async methods: a revoke's 200 still waits until the state holds it.
 */
import { z } from 'zod';
import { ConfigError, InvalidArgumentError, UnavailableError } from '../errors.ts';
import { kidToString, type PrivateKey, type PublicKeyInput } from '../crypto/keys.ts';
import type { Signer } from '../crypto/signer.ts';
import { equalBytes } from '../crypto/hash.ts';
import { Keyring } from '../verify/keyring.ts';
import { createRevocationHandler, type RevocationHandler } from './revocation-feed.ts';
import { RevocationState } from '../revocation/index.ts';
import { MAX_CUTOFF } from '../revocation/registry.ts';
import type { AnyRegistry } from '../revocation/open-registry.ts';
import type { RevokeFn, RouteHandler } from './service.ts';
import type { RevocationLookup } from './routes/revocation-check.ts';

const reason = z.string().max(500).optional();
const byId = z.strictObject({ id: z.string().regex(/^[0-9a-fA-F]{32}$/, 'a block id is 32 hex digits'), reason });
const bySubject = z.strictObject({ subject: z.string().min(1).max(256), reason });
const byKeyCutoff = z.strictObject({
  kid: z.string().regex(/^[A-Za-z0-9_-]{11}$/, 'a key id is 11 base64url characters'),
  before: z.number().int().min(0).max(MAX_CUTOFF),
  reason,
});
/** What a revocation names without a token: a block id, a subject, or a key's cut-off (the console's revoke action). */
export const revokeTargetSchema = z.union([byId, bySubject, byKeyCutoff]);
/** The body of POST /v1/revoke: a token, or a target. */
export const revokeRequestSchema = z.union([z.strictObject({ token: z.string().min(6).max(30_000), reason }), byId, bySubject, byKeyCutoff]);

export interface ServiceRevocationOptions {
  readonly registry: AnyRegistry;
  /** The authority private key that signs snapshots (its public key must be trusted); or give `signer`. */
  readonly key?: PrivateKey;
  /** Signs snapshots through this (HSM, cloud KMS, WebCrypto key) instead of a key in memory. */
  readonly signer?: Signer;
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
  /** Settles when the first snapshot is in the state (at once with a key). */
  readonly ready: Promise<void>;
  /** Brings the state up to the registry now (a change made past `revoke`, e.g. disenrolment). */
  sync(): Promise<void>;
  close(): void;
}

export function serviceRevocation(o: ServiceRevocationOptions): ServiceRevocation {
  // The service's own state must never go stale between re-signatures: re-sign well within maxAge.
  const resignAfter = o.maxAge !== undefined ? Math.max(1, Math.min(60, Math.floor(o.maxAge / 2))) : undefined;
  if ((o.key === undefined) === (o.signer === undefined)) throw new ConfigError('the revocation service needs the authority key or a signer (one of them)');
  const signs: { kid: Uint8Array; publicKey: Uint8Array } = o.key ?? o.signer!;
  const handler = createRevocationHandler({
    registry: o.registry,
    ...(o.key ? { key: o.key } : { signer: o.signer! }),
    ...(resignAfter !== undefined ? { resignAfter } : {}),
  });
  const keyring = o.trusted instanceof Keyring ? o.trusted : new Keyring(o.trusted);
  if (!keyring.get(signs.kid) || !equalBytes(keyring.get(signs.kid)!, signs.publicKey)) {
    handler.close();
    throw new ConfigError('the revocation signing key is not one of the trusted authority keys');
  }
  // The service's registry records revocations of any chain the service trusts, so its
  // snapshots speak for all of them (unless the config names a narrower set).
  const covers = o.covers ?? keyring.kids();
  const state = new RevocationState({
    trusted: keyring,
    scopes: [{ signer: signs.publicKey, covers }],
    ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
  });
  const signer = kidToString(signs.kid);
  const p = handler.publisher;
  /** Deltas when they chain from what the state holds (a few hundred bytes each); false when it needs the snapshot. */
  const applyDeltas = (): boolean => {
    const held = state.versionOf(signer);
    const deltas = held >= 0 ? p.deltasSince(held) : undefined;
    return deltas !== undefined && deltas.every((d) => state.applyDelta(d.text).outcome !== 'gap') && state.versionOf(signer) === p.version;
  };
  const failed = (e: unknown): void => {
    process.stderr.write(`capframe serve: revocation snapshot update failed: ${(e as Error).message}\n`);
  };
  const syncKey = (): void => {
    try {
      p.refresh();
      if (!applyDeltas()) state.update(p.current().text);
    } catch (e) {
      failed(e);
    }
  };
  const syncSigner = async (): Promise<void> => {
    try {
      await p.refreshAsync();
      if (applyDeltas()) return;
      const cur = await p.currentAsync();
      // A newer snapshot may have reached the state while this one was signed.
      if (cur.version >= state.versionOf(signer)) state.update(cur.text);
    } catch (e) {
      failed(e);
    }
  };
  // The timer's syncs do not pile up behind a slow signer; a revoke's sync always runs after its change.
  let polling = false;
  const poll = (): void => {
    if (o.key) return syncKey();
    if (polling) return;
    polling = true;
    void syncSigner().finally(() => (polling = false));
  };
  const ready = o.key ? (syncKey(), Promise.resolve()) : syncSigner();
  const onChange = (): void => poll();
  o.registry.on('change', onChange);
  const resignEvery = Math.max(1, Math.floor(handler.publisher.resignAfter / 2)) * 1000;
  let lastResign = Date.now();
  const timer = setInterval(() => {
    if (o.registry.version !== state.versionOf(signer) || Date.now() - lastResign >= resignEvery) {
      lastResign = Date.now();
      poll();
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
    // In force before the answer, even if the change event is not emitted.
    if (o.key) syncKey();
    else await syncSigner();
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
    ready,
    sync: () => (o.key ? (syncKey(), Promise.resolve()) : syncSigner()),
    close() {
      clearInterval(timer);
      o.registry.off('change', onChange);
      handler.close();
    },
  };
}
