/**
 * MCP sessions from the capframe config (`mcp:`, src/config/mcp.ts): the
 * guard takes its session key and caps from `mcp.server.sessions`, the client
 * pins the server's key from `mcp.client`, over Streamable HTTP on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { formatPublicKey, generateKey, serializePrivateKey, type CapframeError } from '../../src/index.ts';
import { loadConfig, parseConfig } from '../../src/config/index.ts';
import { capframeSessionStats, withCapframe, type McpDecisionEvent } from '../../src/mcp/index.ts';
import { serveHttp } from '../../examples/mcp/http.ts';
import { agentKey, agentToken, CONFIG_TEXT, ticketsServer, type Effects } from './fixtures.ts';

const serviceKey = generateKey();

function configDir(mcp: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-mcp-cfg-'));
  writeFileSync(join(dir, 'mcp-session.key'), serializePrivateKey(serviceKey), { mode: 0o600 });
  const file = join(dir, 'capframe.yaml');
  writeFileSync(file, `${CONFIG_TEXT}${mcp}`);
  return { dir, file };
}

const SERVER_AND_CLIENT = `mcp:
  server:
    sessions:
      keyFile: ./mcp-session.key
      maxTtl: 600
      maxPerHolder: 4
  client:
    serviceKey: ${formatPublicKey(serviceKey.publicKey)}
    sessionTtl: 300
`;

function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.equal((e as CapframeError).code, 'ERR_CONFIG');
    return (e as Error).message;
  }
  assert.fail('no ERR_CONFIG');
}

test('mcp.server.sessions and mcp.client from the config: calls go over a session (one handshake), the handler runs', async (t) => {
  const { dir, file } = configDir(SERVER_AND_CLIENT);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = loadConfig(file);
  assert.equal(cfg.mcp?.server?.sessions?.keyFile, join(dir, 'mcp-session.key'), 'the key file resolves against the config directory');
  const effects: Effects = [];
  const events: McpDecisionEvent[] = [];
  const guards: { close(): Promise<void> }[] = [];
  const http = await serveHttp(() => {
    const built = ticketsServer({ config: cfg, onDecision: (e) => events.push(e) }, effects);
    assert.equal(built.guard.sessions?.maxTtl, 600);
    assert.equal(built.guard.sessions?.maxPerHolder, 4);
    assert.equal(formatPublicKey(built.guard.sessions!.signer.publicKey), formatPublicKey(serviceKey.publicKey));
    guards.push(built.guard);
    return built.server;
  });
  t.after(async () => {
    await http.close();
    for (const g of guards) await g.close();
  });
  const client = new Client({ name: 'cfg-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(http.url));
  t.after(() => client.close());
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, config: cfg });
  for (const id of ['1', '2', '3']) await mcp.callTool({ name: 'read_ticket', arguments: { id } });
  assert.deepEqual(
    effects.map((e) => e.args.id),
    ['1', '2', '3'],
  );
  assert.deepEqual(
    events.map((e) => [e.decision, e.mode]),
    [
      ['allow', 'session'],
      ['allow', 'session'],
      ['allow', 'session'],
    ],
  );
  assert.deepEqual(capframeSessionStats(mcp), { handshakes: 1, retries: 0, signed: 0, refusedAnswers: 0 });
});

test('mcp.client.sessions: false, or the guard option sessions: false, keeps every call signed', async (t) => {
  const { dir, file } = configDir(SERVER_AND_CLIENT);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = loadConfig(file);
  const off = { ...cfg, mcp: { ...cfg.mcp, client: { ...cfg.mcp!.client, sessions: false } } };
  assert.equal(ticketsServer({ config: cfg, sessions: false }).guard.sessions, undefined);
  const effects: Effects = [];
  const events: McpDecisionEvent[] = [];
  const http = await serveHttp(() => ticketsServer({ config: cfg, onDecision: (e) => events.push(e) }, effects).server);
  t.after(() => http.close());
  const client = new Client({ name: 'cfg-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(http.url));
  t.after(() => client.close());
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, config: off });
  await mcp.callTool({ name: 'read_ticket', arguments: { id: '7' } });
  assert.equal(effects.length, 1);
  assert.deepEqual(
    events.map((e) => e.mode),
    ['signed'],
  );
  assert.equal(capframeSessionStats(mcp)?.handshakes, 0);
});

test('mcp: a missing or unreadable session key file is ERR_CONFIG naming the field; bad values name file, line and field', (t) => {
  const { dir, file } = configDir(SERVER_AND_CLIENT.replace('./mcp-session.key', './absent.key'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = loadConfig(file);
  assert.match(
    configError(() => ticketsServer({ config: cfg })),
    /mcp\.server\.sessions\.keyFile: cannot read .*absent\.key \(ENOENT\)/,
  );
  writeFileSync(join(dir, 'absent.key'), formatPublicKey(serviceKey.publicKey));
  const msg = configError(() => ticketsServer({ config: cfg }));
  assert.match(msg, /mcp\.server\.sessions\.keyFile: cannot read/);
  assert.ok(!msg.includes(formatPublicKey(serviceKey.publicKey)), "the file's content is not in the message");

  const lines = CONFIG_TEXT.split('\n').length - 1;
  assert.equal(
    configError(() => parseConfig(`${CONFIG_TEXT}mcp:\n  client:\n    serviceKey: nope\n`)),
    `capframe.yaml:${lines + 3} mcp.client.serviceKey: expected the MCP server's session public key (cfk1.…)`,
  );
  assert.equal(
    configError(() => parseConfig(`${CONFIG_TEXT}mcp:\n  server:\n    sessions:\n      keyFile: ./k\n      ttl: 5\n`)),
    `capframe.yaml:${lines + 5} mcp.server.sessions.ttl: unknown field`,
  );
  assert.match(
    configError(() => parseConfig(`${CONFIG_TEXT}mcp:\n  server:\n    sessions:\n      maxTtl: 600\n`)),
    /mcp\.server\.sessions\.keyFile: is required/,
  );
  assert.match(
    configError(() => parseConfig(`${CONFIG_TEXT}mcp:\n  client:\n    sessions: true\n`)),
    /mcp\.client\.sessions: sessions: true needs the pinned serviceKey/,
  );
  assert.match(
    configError(() => parseConfig(`${CONFIG_TEXT}mcp:\n  client:\n    sessionTtl: 10\n`)),
    /mcp\.client\.sessionTtl: /,
  );
});
