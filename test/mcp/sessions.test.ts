/**
 * Session calls over MCP (docs/spec.md §4.7) with the real SDK over Streamable
 * HTTP on 127.0.0.1: a stateless endpoint (a new McpServer per request, one
 * SessionTable for the process), so that a restart keeps the MCP side usable
 * and only the capframe sessions vanish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { errors, generateKey, Verifier, type Token } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { formatPublicKey } from '../../src/crypto/keys.ts';
import { decodeBase64url } from '../../src/encoding/base64url.ts';
import { SessionTable } from '../../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { capframeSessionStats, denialOf, META_KEY, SESSION_NONCE_METHOD, SESSION_OPEN_METHOD, withCapframe } from '../../src/mcp/index.ts';
import { agentKey, agentToken, config, ticketsServer, type Effects } from './fixtures.ts';
import type { McpDecisionEvent } from '../../src/mcp/index.ts';

const serviceKey = generateKey();

interface Endpoint {
  url: URL;
  effects: Effects;
  events: McpDecisionEvent[];
  table: SessionTable | undefined;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A stateless Streamable HTTP MCP endpoint; `restart()` closes it and listens again on the same port with a new SessionTable. */
async function serve(o: { sessions?: boolean; verifier?: Verifier; keepAlive?: boolean } = {}): Promise<Endpoint> {
  const verifier = o.verifier ?? new Verifier({ trusted: config().trusted });
  const effects: Effects = [];
  const events: McpDecisionEvent[] = [];
  const newTable = () => (o.sessions === false ? undefined : new SessionTable({ verifier, signer: keySigner(serviceKey) }));
  const ep = { effects, events, table: newTable() } as Endpoint;
  let http: Server;
  const listen = async (port: number) => {
    http = createServer((req, res) => {
      // A restart drops every connection; a keep-alive socket the client has not yet seen close
      // would fail its next request in fetch, below MCP and capframe: the restart test closes each.
      if (o.keepAlive === false) res.setHeader('Connection', 'close');
      void (async () => {
        const { server } = ticketsServer({ verifier, onDecision: (e) => events.push(e), ...(ep.table ? { sessions: ep.table } : {}) }, effects);
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on('close', () => void server.close().catch(() => {}));
        await server.connect(transport);
        await transport.handleRequest(req, res);
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    return (http.address() as AddressInfo).port;
  };
  const stop = async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
  const port = await listen(0);
  ep.url = new URL(`http://127.0.0.1:${port}/mcp`);
  ep.restart = async () => {
    await stop();
    ep.table = newTable();
    await listen(port);
  };
  ep.close = stop;
  return ep;
}

type Tamper = (body: Record<string, unknown>) => void;

/** An SDK client; `tamper` may change each JSON-RPC response body before the SDK reads it (a party on the path). */
async function connect(url: URL, tamper?: { fn?: Tamper }): Promise<Client> {
  const f: typeof fetch = async (input, init) => {
    const r = await fetch(input, { ...init, signal: null });
    if (!tamper?.fn || !(r.headers.get('content-type') ?? '').includes('application/json')) return r;
    const body = (await r.json()) as Record<string, unknown>;
    tamper.fn(body);
    return new Response(JSON.stringify(body), { status: r.status, headers: r.headers });
  };
  const c = new Client({ name: 'session-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(url, { fetch: f }));
  return c;
}

async function deniedCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError, String(e));
    return denialOf(e)?.code;
  }
  assert.fail('not denied');
}

/** A session opened by hand over the two handshake methods. */
async function openSession(client: Client, token: Token): Promise<ClientSession> {
  const n = await client.request({ method: SESSION_NONCE_METHOD, params: {} }, z.object({ nonce: z.string() }).passthrough());
  const p = beginSession(token, agentKey, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n.nonce), ttl: 600 });
  const o = await client.request({ method: SESSION_OPEN_METHOD, params: { ...p.request } }, z.object({ reply: z.string(), signature: z.string() }));
  return p.finish(decodeBase64url(o.reply), decodeBase64url(o.signature));
}

/** `tools/call` params carrying a sealed session call for (tool, args), sent as (sendTool, sendArgs). */
function sessionParams(s: ClientSession, tool: string, args: Record<string, unknown>, send?: { tool?: string; args?: Record<string, unknown>; tag?: string }) {
  const policy = config().tools[tool]!;
  const sealed = s.seal({ tool, operation: policy.operation, resource: policy.resource.render(args), args, callId: `c-${s.counter + 1}` });
  const e = sealed.envelope;
  const credential = { session: e.session, counter: e.counter, callId: e.callId, exp: e.exp, tag: send?.tag ?? e.tag };
  return { name: send?.tool ?? tool, arguments: send?.args ?? args, _meta: { [META_KEY]: credential } };
}

test('a session call runs the tool; the answer is tagged; one handshake for many calls', async () => {
  const ep = await serve();
  const client = await connect(ep.url);
  try {
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, serviceKey: formatPublicKey(serviceKey.publicKey) });
    const r = await mcp.callTool({ name: 'read_ticket', arguments: { id: '7' } });
    assert.equal((r.content as { text: string }[])[0]!.text, 'read_ticket done {"id":"7"}');
    const answer = (r._meta as Record<string, { session: { tag?: string } }>)[META_KEY]!.session;
    assert.equal(typeof answer.tag, 'string');
    await mcp.callTool({ name: 'update_ticket', arguments: { id: '8', status: 'open' } });
    assert.deepEqual(capframeSessionStats(mcp), { handshakes: 1, retries: 0, signed: 0, refusedAnswers: 0 });
    assert.deepEqual(
      ep.events.map((e) => [e.tool, e.decision, e.mode]),
      [
        ['read_ticket', 'allow', 'session'],
        ['update_ticket', 'allow', 'session'],
      ],
    );
    // Outside the token's scope over the session: a tagged denial with the rules' code.
    assert.equal(await deniedCode(mcp.callTool({ name: 'delete_ticket', arguments: { id: '7' } })), 'ERR_SCOPE_PERMISSION');
    assert.equal(ep.effects.length, 2);
  } finally {
    await client.close();
    await ep.close();
  }
});

test('forged tag, replayed counter, another tool, changed arguments: denied with their codes, handler not run', async () => {
  const ep = await serve();
  const client = await connect(ep.url);
  try {
    const s = await openSession(client, agentToken());
    const forged = sessionParams(s, 'read_ticket', { id: '1' });
    const tag = (forged._meta[META_KEY] as { tag: string }).tag;
    (forged._meta[META_KEY] as { tag: string }).tag = (tag[0] === 'A' ? 'B' : 'A') + tag.slice(1);
    assert.equal(await deniedCode(client.callTool(forged)), 'ERR_SESSION_TAG');
    assert.equal(await deniedCode(client.callTool(sessionParams(s, 'read_ticket', { id: '2' }, { tool: 'trimmed_read' }))), 'ERR_SESSION_TAG');
    assert.equal(await deniedCode(client.callTool(sessionParams(s, 'read_ticket', { id: '3' }, { args: { id: '4' } }))), 'ERR_SESSION_TAG');
    assert.deepEqual(ep.effects, []);
    const ok = sessionParams(s, 'read_ticket', { id: '5' });
    await client.callTool(ok);
    assert.equal(await deniedCode(client.callTool(ok)), 'ERR_REPLAY');
    assert.deepEqual(ep.effects, [{ tool: 'read_ticket', args: { id: '5' } }]);
    // An unknown session is ERR_SESSION_UNKNOWN (what a restarted server answers).
    const unknown = sessionParams(s, 'read_ticket', { id: '6' });
    (unknown._meta[META_KEY] as { session: string }).session = 'A'.repeat(22);
    assert.equal(await deniedCode(client.callTool(unknown)), 'ERR_SESSION_UNKNOWN');
    assert.equal(ep.effects.length, 1);
  } finally {
    await client.close();
    await ep.close();
  }
});

test('a revoked token: the next session call is ERR_REVOKED and the handler does not run', async () => {
  const token = agentToken();
  const revoked = new Set<string>();
  const verifier = new Verifier({
    trusted: config().trusted,
    revocation: {
      check: (chain) => {
        if (chain.ids.some((id) => revoked.has(id))) throw new errors.RevokedError('token revoked');
      },
    },
  });
  const ep = await serve({ verifier });
  const client = await connect(ep.url);
  try {
    const mcp = withCapframe(client, { token, holderKey: agentKey, serviceKey: serviceKey.publicKey });
    await mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } });
    revoked.add(verifier.verifyToken(token).ids[0]!);
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '2' } })), 'ERR_REVOKED');
    // The session ended with that denial; a new handshake is refused for the same reason.
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '3' } })), 'ERR_REVOKED');
    assert.deepEqual(ep.effects, [{ tool: 'read_ticket', args: { id: '1' } }]);
  } finally {
    await client.close();
    await ep.close();
  }
});

test('a forged or stripped answer on the path is a denial (ERR_SESSION_ANSWER), never the result', async () => {
  const ep = await serve();
  const tamper: { fn?: Tamper } = {};
  const client = await connect(ep.url, tamper);
  try {
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, serviceKey: serviceKey.publicKey });
    await mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } });
    const answerOf = (b: Record<string, unknown>) =>
      ((b.result as { _meta?: Record<string, { session?: { tag?: string; decision?: string } }> })?._meta ?? {})[META_KEY]?.session;
    tamper.fn = (b) => {
      const a = answerOf(b);
      if (a?.tag) a.tag = (a.tag[0] === 'A' ? 'B' : 'A') + a.tag.slice(1);
    };
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '2' } })), 'ERR_SESSION_ANSWER');
    tamper.fn = (b) => {
      const a = answerOf(b);
      if (a) delete a.tag;
    };
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '3' } })), 'ERR_SESSION_ANSWER');
    tamper.fn = (b) => {
      const m = (b.result as { _meta?: Record<string, unknown> })?._meta;
      if (m) delete m[META_KEY];
    };
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '4' } })), 'ERR_SESSION_ANSWER');
    assert.equal(capframeSessionStats(mcp)!.refusedAnswers, 3);
  } finally {
    await client.close();
    await ep.close();
  }
});

test('fallback: signed proofs when the server or the client has no sessions; a session call to a server without them is ERR_MALFORMED', async () => {
  const plain = await serve({ sessions: false });
  const withSessions = await serve();
  const c1 = await connect(plain.url);
  const c2 = await connect(withSessions.url);
  try {
    const a = withCapframe(c1, { token: agentToken(), holderKey: agentKey, serviceKey: serviceKey.publicKey });
    await a.callTool({ name: 'read_ticket', arguments: { id: '1' } });
    assert.deepEqual(capframeSessionStats(a), { handshakes: 0, retries: 0, signed: 1, refusedAnswers: 0 });
    assert.equal(plain.events[0]!.mode, 'signed');
    const b = withCapframe(c2, { token: agentToken(), holderKey: agentKey });
    await b.callTool({ name: 'read_ticket', arguments: { id: '2' } });
    assert.equal(withSessions.events[0]!.mode, 'signed');
    const s = await openSession(c2, agentToken());
    assert.equal(await deniedCode(c1.callTool(sessionParams(s, 'read_ticket', { id: '3' }))), 'ERR_MALFORMED');
    assert.equal(plain.effects.length, 1);
  } finally {
    await c1.close();
    await c2.close();
    await plain.close();
    await withSessions.close();
  }
});

test('a client pinning another key refuses the session (ERR_SESSION_ANSWER) and runs nothing', async () => {
  const ep = await serve();
  const client = await connect(ep.url);
  try {
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, serviceKey: generateKey().publicKey });
    assert.equal(await deniedCode(mcp.callTool({ name: 'read_ticket', arguments: { id: '1' } })), 'ERR_SESSION_ANSWER');
    assert.deepEqual(ep.effects, []);
  } finally {
    await client.close();
    await ep.close();
  }
});

test('a server restart mid-run: the next call re-opens the session once and no call fails', async () => {
  const ep = await serve({ keepAlive: false });
  const client = await connect(ep.url);
  try {
    const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, serviceKey: serviceKey.publicKey });
    for (let i = 0; i < 3; i++) await mcp.callTool({ name: 'read_ticket', arguments: { id: `a${i}` } });
    await ep.restart();
    for (let i = 0; i < 3; i++) await mcp.callTool({ name: 'read_ticket', arguments: { id: `b${i}` } });
    assert.deepEqual(capframeSessionStats(mcp), { handshakes: 2, retries: 1, signed: 0, refusedAnswers: 0 });
    assert.equal(ep.effects.length, 6);
    assert.deepEqual(
      ep.events.filter((e) => e.decision === 'deny').map((e) => e.code),
      ['ERR_SESSION_UNKNOWN'],
    );
  } finally {
    await client.close();
    await ep.close();
  }
});
