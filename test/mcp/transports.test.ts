/** The same checks over stdio (a child process) and Streamable HTTP on 127.0.0.1, and the OAuth binding over HTTP. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { formatPublicKey, generateKey } from '../../src/index.ts';
import { denialOf, signCallParams, withCapframe } from '../../src/mcp/index.ts';
import { agentKey, agentToken, authority, config, ticketsServer, type Effects } from './fixtures.ts';
import { serveHttp } from '../../examples/mcp/http.ts';

async function denied(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError);
    return denialOf(e)?.code;
  }
  assert.fail('not denied');
}

test('stdio: a signed call runs in the child; no proof and a replay are denied with no side effect', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-mcp-'));
  const effects = join(dir, 'effects.jsonl');
  writeFileSync(effects, '');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', fileURLToPath(new URL('./stdio-server.ts', import.meta.url))],
    env: { PATH: process.env.PATH ?? '', CAPFRAME_AUTHORITY: formatPublicKey(authority.publicKey), CAPFRAME_EFFECTS: effects },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  try {
    await client.connect(transport);
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey });
    const r = await mcp.callTool({ name: 'update_ticket', arguments: { id: '7', status: 'open' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'updated 7' }]);
    assert.equal(await denied(client.callTool({ name: 'update_ticket', arguments: { id: '8', status: 'open' } })), 'ERR_MISSING_TOKEN');
    const signed = signCallParams({ name: 'update_ticket', arguments: { id: '9', status: 'x' } }, config().tools.update_ticket!, {
      token: agentToken(),
      holderKey: agentKey,
    });
    await client.callTool(signed);
    assert.equal(await denied(client.callTool(signed)), 'ERR_REPLAY');
    assert.deepEqual(
      readFileSync(effects, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [
        { id: '7', status: 'open' },
        { id: '9', status: 'x' },
      ],
    );
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Streamable HTTP on 127.0.0.1: allowed, missing proof, changed arguments, replay', async () => {
  const effects: Effects = [];
  const http = await serveHttp(() => ticketsServer({}, effects).server);
  const client = new Client({ name: 'http-test', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(http.url));
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey });
    const r = await mcp.callTool({ name: 'read_ticket', arguments: { id: '7' } });
    assert.equal((r.content as { text: string }[])[0]!.text, 'read_ticket done {"id":"7"}');
    assert.equal(await denied(client.callTool({ name: 'delete_ticket', arguments: { id: '7' } })), 'ERR_MISSING_TOKEN');
    const signed = signCallParams({ name: 'update_ticket', arguments: { id: '7', status: 'open' } }, config().tools.update_ticket!, {
      token: agentToken(),
      holderKey: agentKey,
    });
    assert.equal(await denied(client.callTool({ ...signed, arguments: { id: '8', status: 'open' } })), 'ERR_INVOCATION_MISMATCH');
    await client.callTool(signed);
    assert.equal(await denied(client.callTool(signed)), 'ERR_REPLAY');
    assert.deepEqual(
      effects.map((e) => e.tool),
      ['read_ticket', 'update_ticket'],
    );
  } finally {
    await client.close();
    await http.close();
  }
});

test('OAuth coexistence: the token must belong to the client that bearer auth authenticated (subject, or holder key)', async () => {
  const clients: Record<string, string> = { 'bearer-support': 'agent:support', 'bearer-billing': 'agent:billing' };
  const bearer = (t: string) => (clients[t] ? { token: t, clientId: clients[t]!, scopes: ['mcp'] } : undefined);
  const effects: Effects = [];
  const http = await serveHttp(() => ticketsServer({ auth: { bind: 'subject' } }, effects).server, bearer);
  const connect = async (b: string) => {
    const c = new Client({ name: 'oauth-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(http.url, { requestInit: { headers: { Authorization: `Bearer ${b}` } } }));
    return c;
  };
  const support = await connect('bearer-support');
  const billing = await connect('bearer-billing');
  try {
    const token = agentToken({ subject: 'agent:support' });
    await withCapframe(support, { token, holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '1' } });
    // The same token presented by another authenticated client: refused before the proof is looked at.
    assert.equal(
      await denied(withCapframe(billing, { token, holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '2' } })),
      'ERR_UNAUTHORIZED',
    );
    assert.deepEqual(
      effects.map((e) => e.args.id),
      ['1'],
    );
  } finally {
    await support.close();
    await billing.close();
    await http.close();
  }

  // Holder-key binding: the OAuth identity is the agent's cfk1. key (here from AuthInfo.extra).
  const other = generateKey();
  const keys: Record<string, string> = { 'bearer-a': formatPublicKey(agentKey.publicKey), 'bearer-b': formatPublicKey(other.publicKey) };
  const http2 = await serveHttp(
    () => ticketsServer({ auth: { bind: 'holder', identity: (a) => a.extra?.holderKey as string | undefined } }, effects).server,
    (t) => (keys[t] ? { token: t, clientId: t, scopes: [], extra: { holderKey: keys[t] } } : undefined),
  );
  const a = new Client({ name: 'a', version: '1' });
  const b = new Client({ name: 'b', version: '1' });
  try {
    await a.connect(new StreamableHTTPClientTransport(http2.url, { requestInit: { headers: { Authorization: 'Bearer bearer-a' } } }));
    await b.connect(new StreamableHTTPClientTransport(http2.url, { requestInit: { headers: { Authorization: 'Bearer bearer-b' } } }));
    await withCapframe(a, { token: agentToken(), holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '3' } });
    assert.equal(
      await denied(withCapframe(b, { token: agentToken(), holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '4' } })),
      'ERR_UNAUTHORIZED',
    );
    assert.deepEqual(
      effects.map((e) => e.args.id),
      ['1', '3'],
    );
  } finally {
    await a.close();
    await b.close();
    await http2.close();
  }
});

test('OAuth binding without authInfo (e.g. in memory, no bearer auth): ERR_UNAUTHORIZED', async () => {
  const { connectInMemory } = await import('./fixtures.ts');
  const { server, effects } = ticketsServer({ auth: { bind: 'subject' } });
  const client = await connectInMemory(server);
  assert.equal(
    await denied(withCapframe(client, { token: agentToken(), holderKey: agentKey }).callTool({ name: 'read_ticket', arguments: { id: '1' } })),
    'ERR_UNAUTHORIZED',
  );
  assert.deepEqual(effects, []);
});

test('two server instances sharing one replay store (asynchronous, as a networked store answers): a proof used on one is a replay on the other', async () => {
  const { MemoryReplayStore } = await import('../../src/verify/replay.ts');
  const { Verifier } = await import('../../src/index.ts');
  const shared = new MemoryReplayStore(10_000);
  const replay = { checkAndRecord: async (key: string, exp: number, now: number) => shared.checkAndRecord(key, exp, now) };
  const effects: Effects = [];
  const make = () => ticketsServer({ verifier: new Verifier({ trusted: config().trusted, replay }) }, effects).server;
  const one = await serveHttp(make);
  const two = await serveHttp(make);
  const c1 = new Client({ name: 'one', version: '1' });
  const c2 = new Client({ name: 'two', version: '1' });
  try {
    await c1.connect(new StreamableHTTPClientTransport(one.url));
    await c2.connect(new StreamableHTTPClientTransport(two.url));
    const signed = signCallParams({ name: 'update_ticket', arguments: { id: '7', status: 'closed' } }, config().tools.update_ticket!, {
      token: agentToken(),
      holderKey: agentKey,
    });
    await c1.callTool(signed);
    assert.equal(await denied(c2.callTool(signed)), 'ERR_REPLAY');
    assert.equal(effects.length, 1);
  } finally {
    await c1.close();
    await c2.close();
    await one.close();
    await two.close();
  }
});
