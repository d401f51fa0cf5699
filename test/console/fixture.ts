/**
 * A real `capframe serve` for the console tests: config file, revocation
 * registry (SQLite), audit log with signed checkpoints, an authority with
 * one profile, and the admin secret; plus an agent that makes real signed
 * calls (RemoteVerifier -> POST /v1/verify).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegate, formatPublicKey, generateKey, issueToken, serializePrivateKey, type PrivateKey } from '../../src/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService, type RunningService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { AuthorityClient } from '../../src/remote/index.ts';

export const SECRET = 'console-admin-secret-0123456789';
export const AUDIENCE = 'capframe-authority:console-test';
export const GRANTS = [{ resource: 'tickets://acme/*', permissions: ['read'] }];

export interface ConsoleFixture {
  readonly running: RunningService;
  readonly url: string;
  readonly authority: PrivateKey;
  readonly dir: string;
  /** A root token for `subject` (held by a fresh key) and a RemoteVerifier calling as its holder. */
  root(subject: string, maxDepth?: number): { token: string; holder: PrivateKey; call: Caller };
  /** A child of `parent` for `subject`. */
  child(parent: { token: string; holder: PrivateKey }, subject: string): { token: string; holder: PrivateKey; call: Caller };
  /** Enrols an agent with the authority and obtains a token for it. */
  enrol(subject: string): Promise<void>;
  close(): Promise<void>;
}

export type Caller = (resource?: string) => Promise<{ allowed: boolean; code?: string }>;

let calls = 0;

export async function startConsoleFixture(consoleSection = ''): Promise<ConsoleFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-console-'));
  const authority = generateKey();
  const service = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(join(dir, 'service.key'), serializePrivateKey(service), { mode: 0o600 });
  writeFileSync(
    join(dir, 'capframe.yaml'),
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
# A persistent replay store: with the in-memory one, proofs made in the first seconds after a start are refused.
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
  audit:
    path: ./audit.jsonl
    checkpoint:
      keyFile: ./service.key
      everyLines: 5
      everySeconds: 1
  revocation:
    db: ./authority.db
    keyFile: ./authority.key
    maxAge: 5m
  authority:
    audience: ${AUDIENCE}
    keyFile: ./authority.key
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 10m
        grants:
          - resource: "tickets://acme/*"
            permissions: [read]
${consoleSection}`,
  );
  const running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: SECRET }));
  const remotes: RemoteVerifier[] = [];
  const caller = (token: string, holder: PrivateKey): Caller => {
    const remote = new RemoteVerifier({ url: running.url, holderKey: holder });
    remotes.push(remote);
    return async (resource = 'tickets://acme/1') => {
      const d = await remote.verifyCall(token, { tool: 'get_ticket', operation: 'read', resource, args: { id: 1 }, callId: `console-${++calls}` });
      return d.allowed ? { allowed: true } : { allowed: false, code: d.code };
    };
  };
  const authorityClient = new AuthorityClient({ url: running.url, audience: AUDIENCE });
  return {
    running,
    url: running.url,
    authority,
    dir,
    root(subject, maxDepth = 2) {
      const holder = generateKey();
      const token = String(issueToken({ key: authority, subject, holder: holder.publicKey, grants: GRANTS, ttl: '1h', maxDepth }));
      return { token, holder, call: caller(token, holder) };
    },
    child(parent, subject) {
      const holder = generateKey();
      const token = String(delegate(parent.token, { key: parent.holder, to: holder.publicKey, subject, ttl: '30m' }));
      return { token, holder, call: caller(token, holder) };
    },
    async enrol(subject) {
      const holder = generateKey();
      await authorityClient.enrol({ holderKey: holder, profile: 'support', subject, adminSecret: SECRET });
      const got = await authorityClient.obtain({ holderKey: holder, profile: 'support' });
      await caller(String(got.token), holder)();
    },
    async close() {
      await Promise.all(remotes.map((r) => r.close()));
      await authorityClient.close();
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
