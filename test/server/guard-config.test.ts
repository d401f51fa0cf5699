// A Guard built from a config with `remote:` asks the verification service for every call (signed),
// fails closed when the service is unreachable, and decides with the same codes as the local Guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { formatPublicKey, generateKey, issueToken } from '../../src/index.ts';
import { Guard, guardTools, parseConfig, type CapframeConfig } from '../../src/langchain/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { startService } from '../../src/server/index.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:support',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});
const run = { configurable: { capframe: { token, holderKey: holder } } };

// One file for the service and the agent; `remote:` is appended once the service's port is known.
const SHARED = `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
audit:
  sink: none
tools:
  get_ticket:
    resource: tickets://acme/{id}
    operation: read
  get_org_ticket:
    resource: tickets://{org}/{id}
    operation: read
  delete_ticket:
    resource: tickets://acme/{id}
    operation: delete
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
`;

let ran = 0;
const tools = () =>
  ['get_ticket', 'get_org_ticket', 'delete_ticket'].map((name) =>
    tool(
      async (args) => {
        ran++;
        return `${name} ${JSON.stringify(args)}`;
      },
      { name, description: name, schema: z.object({ id: z.string(), org: z.string().optional() }) },
    ),
  );

/** Tool name, arguments, call number (the tool call id is PREFIX-N). */
type Call = [string, Record<string, string>, number];

/** Runs the calls through a guard built from `config`; returns 'ok' or the denial code of each. */
async function outcomes(config: CapframeConfig, calls: Call[], prefix: string, runConfig: unknown = run): Promise<string[]> {
  const guard = new Guard({ config, sink: null });
  const byName = new Map(guardTools(tools(), guard).map((t) => [t.name, t]));
  try {
    const out: string[] = [];
    for (const [name, args, n] of calls) {
      const m = (await byName.get(name)!.invoke({ type: 'tool_call', id: `${prefix}-${n}`, name, args }, runConfig)) as ToolMessage;
      out.push(m.status === 'error' ? (String(m.content).match(/\((ERR_[A-Z_]+)\)/)?.[1] ?? 'error') : 'ok');
    }
    return out;
  } finally {
    if (guard.verifier instanceof RemoteVerifier) await guard.verifier.close();
  }
}

const CALLS: Call[] = [
  ['get_ticket', { id: '42' }, 1], // in scope
  ['delete_ticket', { id: '42' }, 2], // a permission the token lacks
  ['get_org_ticket', { org: 'other', id: '1' }, 3], // a resource outside the grant
  ['get_ticket', { id: '42' }, 1], // the first call again (same call id): replay
];

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

test('config remote: the guard verifies every call through the service, with the same codes as in process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-guardcfg-'));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(file, SHARED);
  const running = await startService(loadServerConfig(file, {}));
  try {
    const remoteCfg = parseConfig(`${SHARED}remote:\n  url: ${running.url}\n`, { baseDir: dir });
    const guard = new Guard({ config: remoteCfg, sink: null, attestAll: false });
    assert.ok(guard.verifier instanceof RemoteVerifier);
    assert.equal(guard.attestAll, true); // the service checks only signed calls
    await (guard.verifier as RemoteVerifier).close();

    ran = 0;
    const viaService = await outcomes(remoteCfg, CALLS, 'r');
    assert.deepEqual(viaService, ['ok', 'ERR_SCOPE_PERMISSION', 'ERR_SCOPE_RESOURCE', 'ERR_REPLAY']);
    const m = running.service.metrics;
    assert.deepEqual([m.count('allow'), m.count('ERR_SCOPE_PERMISSION'), m.count('ERR_SCOPE_RESOURCE'), m.count('ERR_REPLAY')], [1, 1, 1, 1]);
    assert.deepEqual(await outcomes(parseConfig(SHARED, { baseDir: dir }), CALLS, 'l'), viaService);
    assert.equal(ran, 2); // only the two allowed calls ran their tool
    // every call is signed, so the run needs the holder key
    assert.deepEqual(await outcomes(remoteCfg, [CALLS[0]!], 'k', { configurable: { capframe: { token } } }), ['ERR_MISSING_TOKEN']);
    assert.equal(ran, 2);
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config remote: an unreachable service denies every call with ERR_UNAVAILABLE, unless fallback: local', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  ran = 0;
  assert.deepEqual(
    await outcomes(parseConfig(`${SHARED}remote:\n  url: ${url}\n  timeout: 1000\n`), CALLS, 'd'),
    CALLS.map(() => 'ERR_UNAVAILABLE'),
  );
  assert.equal(ran, 0);
  // fallback: local decides in process with the trust: section, same codes as local
  const dir = mkdtempSync(join(tmpdir(), 'capframe-guardcfg-'));
  try {
    // fallback: local decides in process with the trust: and replay: sections (a deployment without revocation says so)
    assert.deepEqual(await outcomes(parseConfig(`${SHARED}remote:\n  url: ${url}\n  fallback: local\n  revocation: none\n`, { baseDir: dir }), CALLS, 'f'), [
      'ok',
      'ERR_SCOPE_PERMISSION',
      'ERR_SCOPE_RESOURCE',
      'ERR_REPLAY',
    ]);
    assert.equal(ran, 1);
    // without the service's revocation list it never got, the fallback fails closed
    assert.deepEqual(await outcomes(parseConfig(`${SHARED}remote:\n  url: ${url}\n  fallback: local\n`, { baseDir: dir }), [CALLS[0]!], 'g'), [
      'ERR_REVOCATION_STALE',
    ]);
    assert.equal(ran, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
