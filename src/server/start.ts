/** Starts the verification service from a parsed config: verifier, audit log, HTTP listener. */
import { readFileSync } from 'node:fs';
import { AuditLog } from '../audit/log.ts';
import { ConfigError } from '../errors.ts';
import { parsePrivateKey } from '../crypto/keys.ts';
import { openRegistry, type AnyRegistry } from '../revocation/open-registry.ts';
import { serviceRevocation, type ServiceRevocation } from './revocation.ts';
import { Verifier } from '../verify/verifier.ts';
import type { ReplayStore } from '../verify/replay.ts';
import { openReplayStore } from '../verify/replay-open.ts';
import { DEFAULTS } from '../token/limits.ts';
import type { ServerConfig } from '../config/server.ts';
import { createVerifyService, type VerifyService } from './service.ts';
import { ApprovalInbox } from './approval-inbox.ts';

export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly service: VerifyService;
  readonly verifier: Verifier;
  readonly audit: AuditLog | undefined;
  readonly revocation: ServiceRevocation | undefined;
  close(): Promise<void>;
}

export interface StartOverrides {
  readonly port?: number;
  readonly host?: string;
  /** Use this replay store instead of the one the config names (closed with the service). */
  readonly replay?: ReplayStore;
}

async function openRevocation(cfg: ServerConfig): Promise<{ registry: AnyRegistry; rev: ServiceRevocation } | undefined> {
  const r = cfg.revocation;
  if (!r) return undefined;
  let keyText: string;
  try {
    keyText = readFileSync(r.keyFile, 'utf8');
  } catch (e) {
    throw new ConfigError(`${cfg.file}: server.revocation.keyFile: cannot read ${r.keyFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let key;
  try {
    key = parsePrivateKey(keyText);
  } catch (e) {
    throw new ConfigError(`${cfg.file}: server.revocation.keyFile: ${(e as Error).message}`);
  }
  const registry = await openRegistry(r.db, { ...(r.pollMs !== undefined ? { pollMs: r.pollMs } : {}) });
  try {
    const rev = serviceRevocation({
      registry,
      key,
      trusted: cfg.base.trusted,
      ...(r.maxAgeSeconds !== undefined ? { maxAge: r.maxAgeSeconds } : {}),
      ...(r.covers !== undefined ? { covers: r.covers } : {}),
    });
    return { registry, rev };
  } catch (e) {
    await registry.close();
    throw e;
  }
}

export async function startService(cfg: ServerConfig, o: StartOverrides = {}): Promise<RunningService> {
  const b = cfg.base;
  const s = cfg.server;
  const revocation = await openRevocation(cfg);
  let audit: AuditLog | undefined;
  let replay: ReplayStore | undefined;
  // Whatever fails from here on (the audit file, the port), what was opened is closed again.
  const closeAll = () => {
    audit?.close();
    void Promise.resolve(replay?.close?.()).catch(() => {});
    revocation?.rev.close();
    void revocation?.registry.close();
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
    audit = cfg.auditPath
      ? AuditLog.open({ path: cfg.auditPath, maxBytes: s.audit!.maxBytes, maxFiles: s.audit!.maxFiles, fsync: s.audit!.fsync, source: 'service' })
      : undefined;
    const log = audit;
    const service = createVerifyService({
      verifier,
      ...(log ? { audit: log } : {}),
      ...(cfg.adminSecret ? { adminSecret: cfg.adminSecret } : {}),
      // Approval collection needs the admin secret to register requests (docs/authority.md, Approvals).
      ...(cfg.adminSecret ? { approvals: new ApprovalInbox({ backend: verifier.backend, clock: verifier.clock, skew: verifier.clockSkew }) } : {}),
      ...(revocation ? { revoke: revocation.rev.revoke, handlers: [revocation.rev.handler] } : {}),
      bodyLimit: s.bodyLimit,
      requestTimeout: s.requestTimeout,
      headersTimeout: s.headersTimeout,
      keepAliveTimeout: s.keepAliveTimeout,
      maxConnections: s.maxConnections,
      ...(s.maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress: s.maxConnectionsPerAddress } : {}),
      ...(s.maxStreamsPerAddress !== undefined ? { maxStreamsPerAddress: s.maxStreamsPerAddress } : {}),
    });
    if (log) Object.defineProperty(service.metrics, 'auditHead', { get: () => log.head });
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
      async close() {
        revocation?.rev.close();
        await service.close();
        await revocation?.registry.close();
        log?.close();
        await replay?.close?.();
      },
    };
  } catch (e) {
    closeAll();
    throw e;
  }
}
