/**
 * A guard built from the capframe config has the settings of the deployment's
 * service: its revocation list (from the service named in `remote:`, kept
 * fresh, stale = denied) and its replay store (Redis: two server instances
 * accept a proof once between them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { serializePrivateKey, type CapframeError } from '../../src/index.ts';
import { loadConfig, parseConfig } from '../../src/config/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import type { RevocationState } from '../../src/revocation/index.ts';
import { denialOf, signCallParams, withCapframe, type McpGuard } from '../../src/mcp/index.ts';
import { serveHttp } from '../../examples/mcp/http.ts';
import { REDIS_URL, redisPrefix } from '../server/redis-helper.ts';
import { agentKey, agentToken, authority, CONFIG_TEXT, connectInMemory, ticketsServer, type Effects } from './fixtures.ts';

const SECRET = 'mcp-config-admin-secret-0123';

async function denied(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError);
    return denialOf(e)?.code;
  }
  assert.fail('not denied');
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

test("a guard built from the config checks the service's revocation list: a token revoked at the service is ERR_REVOKED, handler not run", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-mcp-rev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(
    file,
    `${CONFIG_TEXT}replay:\n  store: sqlite\n  path: ./replay.db\nserver:\n  port: 0\n  revocation:\n    db: ./authority.db\n    keyFile: ./authority.key\n    maxAge: 5m\n`,
  );
  const service = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  t.after(() => service.close());
  writeFileSync(file, `${readFileSync(file, 'utf8')}remote:\n  url: ${service.url}\n`);

  const effects: Effects = [];
  const { server, guard } = ticketsServer({ config: loadConfig(file) }, effects);
  t.after(() => guard.close());
  await guard.ready();
  const state = guard.verifier.revocation as RevocationState;
  const token = agentToken();
  const other = agentToken({ subject: 'agent:other' });
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token, holderKey: agentKey });
  await mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } });
  assert.equal(effects.length, 1);

  const v0 = state.version;
  const r = await fetch(`${service.url}/v1/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token: token.toString() }),
  });
  assert.equal(r.status, 200);
  // pushed by the service's stream; generous deadline for a loaded machine
  for (let i = 0; i < 400 && state.version <= v0; i++) await new Promise((res) => setTimeout(res, 50));
  assert.ok(state.version > v0, 'the guard received the new revocation list');

  assert.equal(await denied(mcp.callTool({ name: 'read_ticket', arguments: { id: '2' } })), 'ERR_REVOKED');
  assert.equal(effects.length, 1);
  // the other token is not revoked
  await withCapframe(client, { token: other, holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '3' } });
  assert.equal(effects.length, 2);
});

test('without the revocation list (service unreachable) every call is denied as stale; a registry without remote: is a config error', async (t) => {
  const port = await closedPort();
  const effects: Effects = [];
  const { server, guard } = ticketsServer({ config: parseConfig(`${CONFIG_TEXT}remote:\n  url: http://127.0.0.1:${port}\n`) }, effects);
  t.after(() => guard.close());
  await guard.ready();
  const mcp = withCapframe(await connectInMemory(server), { token: agentToken(), holderKey: agentKey });
  assert.equal(await denied(mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } })), 'ERR_REVOCATION_STALE');
  assert.deepEqual(effects, []);

  assert.throws(
    () => ticketsServer({ config: parseConfig(`${CONFIG_TEXT}server:\n  revocation:\n    db: ./authority.db\n    keyFile: ./authority.key\n`) }),
    (e: CapframeError) => e.code === 'ERR_CONFIG' && /remote:/.test(e.message),
  );
  // a service that keeps no list says so: no revocation source, calls are decided
  const none = ticketsServer({ config: parseConfig(`${CONFIG_TEXT}remote:\n  url: http://127.0.0.1:${port}\n  revocation: none\n`) }, effects);
  t.after(() => none.guard.close());
  await withCapframe(await connectInMemory(none.server), { token: agentToken(), holderKey: agentKey }).callTool({
    name: 'read_ticket',
    arguments: { id: '1' },
  });
  assert.equal(effects.length, 1);
});

test('two server instances from one config with replay: redis: a proof used on one is ERR_REPLAY on the other (Streamable HTTP)', async (t) => {
  const prefix = await redisPrefix(t);
  const text = `${CONFIG_TEXT}replay:\n  store: redis\n  url: ${REDIS_URL}\n  prefix: "${prefix}"\n`;
  const effects: Effects = [];
  const guards: McpGuard[] = [];
  // each instance parses the config and opens its own Redis connection, as two processes would
  const instance = () =>
    serveHttp(() => {
      const s = ticketsServer({ config: parseConfig(text) }, effects);
      guards.push(s.guard);
      return s.server;
    });
  const one = await instance();
  const two = await instance();
  const c1 = new Client({ name: 'one', version: '1' });
  const c2 = new Client({ name: 'two', version: '1' });
  t.after(async () => {
    await c1.close();
    await c2.close();
    await one.close();
    await two.close();
    for (const g of guards) await g.close();
  });
  await c1.connect(new StreamableHTTPClientTransport(one.url));
  await c2.connect(new StreamableHTTPClientTransport(two.url));
  const signed = signCallParams({ name: 'update_ticket', arguments: { id: '7', status: 'closed' } }, parseConfig(text).tools.update_ticket!, {
    token: agentToken(),
    holderKey: agentKey,
  });
  await c1.callTool(signed);
  assert.equal(await denied(c2.callTool(signed)), 'ERR_REPLAY');
  assert.equal(await denied(c1.callTool(signed)), 'ERR_REPLAY');
  assert.equal(effects.length, 1);
});
