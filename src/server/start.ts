/** Starts the verification service from a parsed config: verifier, audit log, HTTP listener. */
import { AuditLog } from '../audit/log.ts';
import { ConfigError } from '../errors.ts';
import { readFileSync } from 'node:fs';
import { parsePrivateKey, type PrivateKey } from '../crypto/keys.ts';
import { keySigner, type Signer } from '../crypto/signer.ts';
import { signerFromUri, type OpenedSigner } from '../crypto/signers/from-uri.ts';
import type { ResolvedSigner } from '../config/signer.ts';
import { sessionTableOptions } from '../config/sessions.ts';
import { toCapframeError } from '../error-codes.ts';
import { openRegistry, type AnyRegistry } from '../revocation/open-registry.ts';
import { serviceRevocation, type ServiceRevocation } from './revocation.ts';
import { Verifier } from '../verify/verifier.ts';
import type { ReplayStore } from '../verify/replay.ts';
import { openReplayStore } from '../verify/replay-open.ts';
import { DEFAULTS } from '../token/limits.ts';
import type { ServerConfig } from '../config/server.ts';
import { buildExports, type BuiltExports } from '../config/export.ts';
import { createVerifyService, type VerifyService } from './service.ts';
import { ApprovalInbox } from './approval-inbox.ts';
import { equalBytes } from '../crypto/hash.ts';
import { EnrolmentStore } from '../authority/enrolments.ts';
import { createAuthority, type Authority } from './authority.ts';
import { authorityRoutes } from './routes/authority.ts';
import { digest } from './http.ts';
import { createConsole, type Console } from './console/index.ts';
import { consoleSectionSchema } from '../config/server-section.ts';

export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly service: VerifyService;
  readonly verifier: Verifier;
  readonly audit: AuditLog | undefined;
  readonly revocation: ServiceRevocation | undefined;
  /** The authority (enrolment and token issuance), when the config has `server.authority`. */
  readonly authority: Authority | undefined;
  /** The web console at /ui, unless `server.console.enabled` is false. */
  readonly console: Console | undefined;
  close(): Promise<void>;
}

export interface StartOverrides {
  readonly port?: number;
  readonly host?: string;
  /** Use this replay store instead of the one the config names (closed with the service). */
  readonly replay?: ReplayStore;
}

function readKeyFile(cfg: ServerConfig, field: string, path: string): PrivateKey {
  let keyText: string;
  try {
    keyText = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${cfg.file}: ${field}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parsePrivateKey(keyText);
  } catch (e) {
    throw new ConfigError(`${cfg.file}: ${field}: ${(e as Error).message}`);
  }
}

/** A section's key (keyFile: signed in memory, synchronously) or its signer (signer: URI, e.g. an HSM or KMS key). */
type SectionSigning = { key: PrivateKey; signer: Signer; close?: undefined } | { key?: undefined; signer: OpenedSigner; close(): void };

async function openSigning(cfg: ServerConfig, section: string, s: { keyFile?: string; signer?: ResolvedSigner }): Promise<SectionSigning> {
  if (s.keyFile !== undefined) {
    const key = readKeyFile(cfg, `${section}.keyFile`, s.keyFile);
    return { key, signer: keySigner(key) };
  }
  let signer: OpenedSigner;
  try {
    signer = await signerFromUri(s.signer!.uri, { cwd: s.signer!.cwd });
  } catch (e) {
    const err = toCapframeError(e);
    // The signer's own message names what is wrong (never a PIN); keep its code (ERR_UNAVAILABLE for a KMS down).
    err.message = `${cfg.file}: ${section}.signer: ${err.message}`;
    throw err;
  }
  return { signer, close: () => signer.close?.() };
}

async function openRevocation(cfg: ServerConfig): Promise<{ registry: AnyRegistry; rev: ServiceRevocation; signing: SectionSigning } | undefined> {
  const r = cfg.revocation;
  if (!r) return undefined;
  const signing = await openSigning(cfg, 'server.revocation', r);
  let registry: AnyRegistry | undefined;
  try {
    registry = await openRegistry(r.db, { ...(r.pollMs !== undefined ? { pollMs: r.pollMs } : {}) });
    const rev = serviceRevocation({
      registry,
      ...(signing.key ? { key: signing.key } : { signer: signing.signer }),
      trusted: cfg.base.trusted,
      ...(r.maxAgeSeconds !== undefined ? { maxAge: r.maxAgeSeconds } : {}),
      ...(r.covers !== undefined ? { covers: r.covers } : {}),
    });
    // Through a signer the first snapshot is signed asynchronously: the service starts with it in force.
    await rev.ready;
    return { registry, rev, signing };
  } catch (e) {
    await registry?.close();
    signing.close?.();
    throw e;
  }
}

export async function startService(cfg: ServerConfig, o: StartOverrides = {}): Promise<RunningService> {
  const b = cfg.base;
  const s = cfg.server;
  const revocation = await openRevocation(cfg);
  let audit: AuditLog | undefined;
  let replay: ReplayStore | undefined;
  let exports: BuiltExports | undefined;
  let authority: Authority | undefined;
  let authoritySigning: SectionSigning | undefined;
  let ui: Console | undefined;
  let enrolments: EnrolmentStore | undefined;
  // Whatever fails from here on (the audit file, the port), what was opened is closed again.
  const closeAll = () => {
    ui?.close();
    if (authority) authority.close();
    else enrolments?.close();
    audit?.close();
    for (const q of exports?.queued ?? []) void q.close();
    void Promise.resolve(replay?.close?.()).catch(() => {});
    revocation?.rev.close();
    void revocation?.registry.close();
    revocation?.signing.close?.();
    authoritySigning?.close?.();
  };
  try {
    const section = b.replay ?? { store: 'memory' as const };
    replay =
      o.replay ??
      openReplayStore(
        section.store === 'memory' && section.capacity === undefined && b.replayCacheSize !== undefined ? { ...section, capacity: b.replayCacheSize } : section,
      );
    const verifier = new Verifier({
      trusted: b.trusted,
      ...(b.clockSkew !== undefined ? { clockSkew: b.clockSkew } : {}),
      ...(b.invocationWindow !== undefined ? { invocationWindow: b.invocationWindow } : {}),
      replay,
      // A store lost on restart: proofs issued before this start (plus the skew) may have been
      // accepted by the process this one replaces, so they are refused.
      ...(replay.persistent ? {} : { issuedAfter: Date.now() / 1000 + (b.clockSkew ?? DEFAULTS.clockSkew) }),
      ...(revocation ? { revocation: revocation.rev.state } : {}),
    });
    const cp = s.audit?.checkpoint;
    const checkpointSigner =
      cp && cfg.auditCheckpointKeyFile ? keySigner(readKeyFile(cfg, 'server.audit.checkpoint.keyFile', cfg.auditCheckpointKeyFile)) : undefined;
    audit = cfg.auditPath
      ? AuditLog.open({
          path: cfg.auditPath,
          maxBytes: s.audit!.maxBytes,
          maxFiles: s.audit!.maxFiles,
          fsync: s.audit!.fsync,
          source: 'service',
          ...(cp && checkpointSigner
            ? {
                checkpoint: {
                  signer: checkpointSigner,
                  everyLines: cp.everyLines,
                  everySeconds: cp.everySeconds,
                },
              }
            : {}),
        })
      : undefined;
    const log = audit;
    exports = buildExports(cfg.auditExport, `${cfg.file}: server.audit`);
    const xs = exports;
    const cs = s.console ?? consoleSectionSchema.parse({});
    enrolments = cfg.authority ? new EnrolmentStore({ path: cfg.authority.db }) : undefined;
    if (cs.enabled) {
      const reg = revocation?.registry;
      ui = createConsole({
        ...(cfg.adminSecret ? { adminSecret: cfg.adminSecret } : {}),
        views: cs.views,
        sessionTtl: cs.sessionTtl,
        maxSessions: cs.maxSessions,
        maxStreams: cs.maxStreams,
        recent: cs.recent,
        ...(cs.publicOrigin ? { publicOrigin: cs.publicOrigin } : {}),
        hosts: [o.host ?? s.host],
        ...(log ? { auditSink: log } : {}),
        ...(revocation && reg
          ? {
              revocation: {
                revoke: revocation.rev.revoke,
                state: revocation.rev.state,
                version: () => reg.version,
                page: (limit: number) => reg.page(limit),
                view: (since?: number) => reg.view(since),
              },
            }
          : {}),
        ...(cfg.authority && enrolments
          ? {
              authority: {
                audience: cfg.authority.audience,
                agents: (
                  (store) => (limit: number) =>
                    store.page(limit)
                )(enrolments),
              },
            }
          : {}),
        ...(log
          ? {
              audit: Object.defineProperties(
                {},
                {
                  head: { get: () => log.head },
                  lastCheckpoint: { get: () => log.lastCheckpoint },
                  checkpointFailures: { get: () => log.checkpointFailures },
                  ...(checkpointSigner ? { checkpointKey: { value: checkpointSigner.publicKey } } : {}),
                },
              ) as NonNullable<Parameters<typeof createConsole>[0]['audit']>,
            }
          : {}),
      });
    }
    const onIssued = ui?.issued;
    const a = cfg.authority;
    if (a) {
      authoritySigning = await openSigning(cfg, 'server.authority', a);
      const signer = authoritySigning.signer;
      // Tokens this service issues must verify here (and wherever the same trust is configured).
      if (!b.trusted.some((t) => equalBytes(t, signer.publicKey)))
        throw new ConfigError(
          `${cfg.file}: server.authority.${a.keyFile !== undefined ? 'keyFile' : 'signer'}: the key is not one of the trusted authority keys`,
        );
      authority = createAuthority({
        audience: a.audience,
        profiles: a.profiles,
        signer,
        store: enrolments!,
        ...(onIssued ? { onIssued } : {}),
        replay,
        ...(revocation ? { registry: revocation.registry, revoked: revocation.rev.sync } : {}),
        ...(log ? { audit: log } : {}),
        requestSkew: a.requestSkew,
      });
    }
    const auth = authority;
    const service = createVerifyService({
      verifier,
      ...(log ? { audit: log } : {}),
      ...(xs.sinks.length > 0 ? { exports: xs.sinks, exportStats: xs.queued } : {}),
      ...(cfg.adminSecret ? { adminSecret: cfg.adminSecret } : {}),
      // Approval collection needs the admin secret to register requests (docs/authority.md, Approvals).
      ...(cfg.adminSecret ? { approvals: new ApprovalInbox({ backend: verifier.backend, clock: verifier.clock, skew: verifier.clockSkew }) } : {}),
      ...(revocation ? { revoke: revocation.rev.revoke, revocationLookup: revocation.rev.lookup, handlers: [revocation.rev.handler] } : {}),
      ...(auth ? { routes: (m, limiter) => authorityRoutes(auth, cfg.adminSecret ? digest(cfg.adminSecret) : null, m, s.bodyLimit, limiter) } : {}),
      bodyLimit: s.bodyLimit,
      requestTimeout: s.requestTimeout,
      headersTimeout: s.headersTimeout,
      keepAliveTimeout: s.keepAliveTimeout,
      maxConnections: s.maxConnections,
      ...(s.maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress: s.maxConnectionsPerAddress } : {}),
      ...(s.maxStreamsPerAddress !== undefined ? { maxStreamsPerAddress: s.maxStreamsPerAddress } : {}),
      ...(s.sessions ? { sessions: sessionTableOptions(s.sessions, cfg.sessionKeyPath!, `${cfg.file}: server.sessions.keyFile`) } : {}),
      ...(ui ? { console: ui } : {}),
    });
    if (log) {
      Object.defineProperty(service.metrics, 'auditHead', { get: () => log.head });
      Object.defineProperty(service.metrics, 'auditCheckpoint', { get: () => ({ last: log.lastCheckpoint, failures: log.checkpointFailures }) });
    }
    const port = o.port ?? s.port;
    const host = o.host ?? s.host;
    const addr = await service.listen(port, host).catch((e: unknown) => {
      // e.g. EADDRINUSE, EACCES: a setting to change, named with the address.
      throw new ConfigError(`cannot listen on ${host}:${port}: ${(e as Error).message}`, { cause: e });
    });
    return {
      ...addr,
      service,
      verifier,
      audit: log,
      revocation: revocation?.rev,
      authority: auth,
      console: ui,
      async close() {
        revocation?.rev.close();
        await service.close();
        auth?.close();
        await revocation?.registry.close();
        revocation?.signing.close?.();
        authoritySigning?.close?.();
        await log?.checkpoint(); // a final signed head, so a clean stop leaves nothing unsigned
        log?.close();
        await Promise.all(xs.queued.map(async (q) => (await q.flush(1_000), await q.close())));
        await replay?.close?.();
      },
    };
  } catch (e) {
    closeAll();
    throw e;
  }
}
