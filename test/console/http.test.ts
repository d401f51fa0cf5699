/**
 * The console's HTTP surface without a browser: cookie flags, CSRF and Origin
 * refusals, login rate limiting, 401s, security headers, stream caps, and what
 * never reaches the page (tokens, keys, arguments, denial reasons).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SECRET, startConsoleFixture } from './fixture.ts';
import { createConsole } from '../../src/server/console/index.ts';
import { createVerifyService } from '../../src/server/service.ts';
import { Verifier } from '../../src/verify/verifier.ts';
import { parseServerConfig } from '../../src/config/server.ts';
import { CapframeError } from '../../src/errors.ts';
import { formatPublicKey, generateKey } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { AuditLog } from '../../src/audit/log.ts';

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> };

async function call(url: string, path: string, o: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const r = await request(url + path, {
    method: (o.method ?? (o.body !== undefined ? 'POST' : 'GET')) as 'GET' | 'POST',
    headers: { ...(o.body !== undefined ? { 'content-type': 'application/json', origin: url } : {}), ...o.headers },
    ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
  });
  const text = await r.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: r.statusCode, headers: r.headers, json };
}

async function login(url: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await call(url, '/ui/api/login', { body: { secret: SECRET } });
  assert.equal(r.status, 200);
  const setCookie = String(r.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: String(r.json.csrf), setCookie };
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

test('login: the cookie is HttpOnly, SameSite=Strict, Path=/ui, with a lifetime and a random id; no Secure over plain http', async () => {
  const fx = await startConsoleFixture();
  try {
    const a = await login(fx.url);
    assert.match(a.setCookie, /^capframe_console=[A-Za-z0-9_-]{43}; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    const b = await login(fx.url);
    assert.notEqual(a.cookie, b.cookie);
    assert.notEqual(a.csrf, b.csrf);
    const s = await call(fx.url, '/ui/api/session', { headers: { cookie: a.cookie } });
    assert.equal(s.json.loggedIn, true);
    assert.equal(s.json.csrf, a.csrf);
  } finally {
    await fx.close();
  }
});

test('behind TLS (publicOrigin https): cookies get Secure, and only that Origin is accepted', async () => {
  const fx = await startConsoleFixture('  console:\n    publicOrigin: https://capframe.example\n');
  try {
    const wrong = await call(fx.url, '/ui/api/login', { body: { secret: SECRET } });
    assert.equal(wrong.status, 403);
    const r = await call(fx.url, '/ui/api/login', { body: { secret: SECRET }, headers: { origin: 'https://capframe.example' } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['set-cookie']), /; Secure$/);
  } finally {
    await fx.close();
  }
});

test('without a login every read and every action is 401 (views: login, the default)', async () => {
  const fx = await startConsoleFixture();
  try {
    for (const p of ['trees', 'decisions', 'decisions/stream', 'revocations', 'agents', 'checkpoint']) {
      const r = await call(fx.url, `/ui/api/${p}`);
      assert.equal(r.status, 401, p);
      assert.equal(r.json.code, 'ERR_UNAUTHORIZED');
    }
    for (const p of ['revoke', 'inspect', 'logout']) assert.equal((await call(fx.url, `/ui/api/${p}`, { body: { subject: 'agent:x' } })).status, 401, p);
    // A forged or expired cookie is no session.
    const forged = await call(fx.url, '/ui/api/trees', { headers: { cookie: `capframe_console=${'A'.repeat(43)}` } });
    assert.equal(forged.status, 401);
    const s = await call(fx.url, '/ui/api/session');
    assert.deepEqual([s.json.loggedIn, s.json.csrf, s.json.views], [false, undefined, 'login']);
  } finally {
    await fx.close();
  }
});

test('CSRF: a POST needs the session CSRF token, a same-origin Origin, and a JSON body', async () => {
  const fx = await startConsoleFixture();
  try {
    const { cookie, csrf } = await login(fx.url);
    const body = { subject: 'agent:csrf-target' };
    const post = (headers: Record<string, string>, b: unknown = body) => call(fx.url, '/ui/api/revoke', { body: b, headers: { cookie, ...headers } });
    assert.equal((await post({})).status, 403, 'no CSRF token');
    assert.equal((await post({ 'x-capframe-csrf': 'x'.repeat(43) })).status, 403, 'wrong CSRF token');
    assert.equal((await post({ 'x-capframe-csrf': csrf, origin: 'http://evil.example' })).status, 403, 'foreign Origin');
    assert.equal((await post({ 'x-capframe-csrf': csrf, 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site fetch');
    const noOrigin = await request(fx.url + '/ui/api/revoke', {
      method: 'POST',
      headers: { cookie, 'x-capframe-csrf': csrf, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(noOrigin.statusCode, 403, 'no Origin');
    await noOrigin.body.dump();
    // A form post (what a cross-site page can send without a preflight) is not JSON.
    assert.equal((await post({ 'x-capframe-csrf': csrf, 'content-type': 'application/x-www-form-urlencoded' }, 'subject=agent%3Ax')).status, 415);
    // Nothing above was revoked.
    assert.equal(((await call(fx.url, '/ui/api/revocations', { headers: { cookie } })).json.subjects as string[]).length, 0);
    const ok = await post({ 'x-capframe-csrf': csrf });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.changed, true);
    assert.deepEqual((await call(fx.url, '/ui/api/revocations', { headers: { cookie } })).json.subjects, ['agent:csrf-target']);
    // Logout needs the token too, and ends the session.
    assert.equal((await call(fx.url, '/ui/api/logout', { body: {}, headers: { cookie } })).status, 403);
    const out = await call(fx.url, '/ui/api/logout', { body: {}, headers: { cookie, 'x-capframe-csrf': csrf } });
    assert.equal(out.status, 200);
    assert.match(String(out.headers['set-cookie']), /^capframe_console=; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=0$/);
    assert.equal((await call(fx.url, '/ui/api/trees', { headers: { cookie } })).status, 401);
  } finally {
    await fx.close();
  }
});

test('failed logins are rate-limited per address: after 5 wrong secrets even the right one waits (429)', async () => {
  const fx = await startConsoleFixture();
  try {
    for (let i = 0; i < 5; i++) {
      const r = await call(fx.url, '/ui/api/login', { body: { secret: `wrong-secret-number-${i}` } });
      assert.equal(r.status, 401);
      assert.equal(r.headers['set-cookie'], undefined);
    }
    const blocked = await call(fx.url, '/ui/api/login', { body: { secret: SECRET } });
    assert.equal(blocked.status, 429);
    assert.equal(blocked.json.code, 'ERR_LIMIT');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    assert.equal(blocked.headers['set-cookie'], undefined);
    // A cross-origin login attempt is refused before it counts or is compared.
    assert.equal((await call(fx.url, '/ui/api/login', { body: { secret: SECRET }, headers: { origin: 'http://evil.example' } })).status, 403);
  } finally {
    await fx.close();
  }
});

test('every /ui answer carries the CSP and the other security headers; the vendored modules are served from the package', async () => {
  const fx = await startConsoleFixture();
  try {
    for (const p of [
      '/ui/',
      '/ui/app.js',
      '/ui/style.css',
      '/ui/vendor/preact.js',
      '/ui/vendor/htm.js',
      '/ui/api/session',
      '/ui/api/trees',
      '/ui/nope',
      '/ui/api/nope',
    ]) {
      const r = await request(fx.url + p);
      await r.body.dump();
      assert.equal(r.headers['content-security-policy'], CSP, p);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
    }
    const html = await request(fx.url + '/ui/');
    const page = await html.body.text();
    // No inline script or style, and nothing from another origin.
    assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)[^>]*>|<style|style=|https?:\/\//);
    const js = await request(fx.url + '/ui/vendor/preact.js');
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(await js.body.text(), readFileSync(join('node_modules', 'preact', 'dist', 'preact.mjs'), 'utf8'));
    const redirect = await request(fx.url + '/ui');
    await redirect.body.dump();
    assert.equal(redirect.statusCode, 308);
    assert.equal(redirect.headers.location, '/ui/');
    // No path reaches the file system.
    for (const p of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/vendor/../../package.json']) {
      const r = await request(fx.url + p);
      await r.body.dump();
      assert.equal(r.statusCode, 404, p);
    }
  } finally {
    await fx.close();
  }
});

test('views: public shows the read pages without a login, actions still need it; enabled: false answers 404', async () => {
  const pub = await startConsoleFixture('  console:\n    views: public\n');
  try {
    assert.equal((await call(pub.url, '/ui/api/trees')).status, 200);
    assert.equal((await call(pub.url, '/ui/api/checkpoint')).status, 200);
    assert.equal((await call(pub.url, '/ui/api/revoke', { body: { subject: 'agent:x' } })).status, 401);
    assert.equal((await call(pub.url, '/ui/api/inspect', { body: { token: 'cft1.x' } })).status, 401);
  } finally {
    await pub.close();
  }
  const off = await startConsoleFixture('  console:\n    enabled: false\n');
  try {
    assert.equal(off.running.console, undefined);
    assert.equal((await call(off.url, '/ui/')).status, 404);
    assert.equal((await call(off.url, '/ui/api/session')).status, 404);
  } finally {
    await off.close();
  }
});

test('what reaches the page: codes, names and ids; never the token, keys, arguments or the denial reason', async () => {
  const fx = await startConsoleFixture();
  try {
    const { cookie, csrf } = await login(fx.url);
    const agent = fx.root('agent:leaky');
    assert.equal((await agent.call('billing://acme/secret-argument-resource')).allowed, false);
    assert.equal((await agent.call()).allowed, true);
    await new Promise((r) => setTimeout(r, 250));
    const d = await request(fx.url + '/ui/api/decisions', { headers: { cookie } });
    const text = await d.body.text();
    const rows = (JSON.parse(text) as { decisions: Record<string, unknown>[] }).decisions;
    assert.equal(rows.length, 2);
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['allowed', 'chainIds', 'code', 'mode', 'operation', 'resource', 'seq', 'subject', 'time', 'tool']);
    assert.equal(rows[0]!.code, 'ERR_SCOPE_RESOURCE');
    assert.doesNotMatch(text, /cft1\.|"reason"|"args"|"argsDigest"|"callId"|"grant"|"error"|cfk1\./);
    // The inspector answers decoded fields only, and nothing pasted lands in the audit log.
    const r = await call(fx.url, '/ui/api/inspect', { body: { token: agent.token }, headers: { cookie, 'x-capframe-csrf': csrf } });
    assert.equal(r.status, 200);
    const answer = JSON.stringify(r.json);
    assert.equal(answer.includes(agent.token.slice(5, 30)), false);
    assert.doesNotMatch(answer, /cfk1\.|"holder"/);
    assert.equal((r.json.blocks as { subject: string }[])[0]!.subject, 'agent:leaky');
    const bad = await call(fx.url, '/ui/api/inspect', { body: { token: 'cft1.not-a-token' }, headers: { cookie, 'x-capframe-csrf': csrf } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.stringify(bad.json).includes('not-a-token'), false);
    await fx.running.audit!.checkpoint();
    assert.equal(readFileSync(join(fx.dir, 'audit.jsonl'), 'utf8').includes(agent.token.slice(5, 30)), false);
  } finally {
    await fx.close();
  }
});

test('live streams are capped, and a reader that stops reading is dropped instead of buffered', async () => {
  const verifier = new Verifier({ trusted: [] });
  // 3: one stream is kept for logged-in readers, two are open to anonymous ones (and to one address).
  const ui = createConsole({ views: 'public', maxStreams: 3, maxStreamBuffer: 64 * 1024, recent: 4096, drainMs: 5, assets: new Map() });
  const service = createVerifyService({ verifier, console: ui });
  const { url, port } = await service.listen();
  const streams: AbortController[] = [];
  try {
    const open = async () => {
      const c = new AbortController();
      streams.push(c);
      const r = await request(url + '/ui/api/decisions/stream', { signal: c.signal });
      r.body.on('error', () => {});
      return r;
    };
    const a = await open();
    assert.equal(a.statusCode, 200);
    assert.equal(a.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(a.headers['content-security-policy'], CSP);
    // A stalled reader: a raw socket that never reads what it is sent.
    const stalled = connect(port, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write(`GET /ui/api/decisions/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    stalled.pause();
    for (let i = 0; i < 100 && ui.stats.streams.clients < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ui.stats.streams.clients, 2);
    const third = await open();
    assert.equal(third.statusCode, 503);
    streams[0]!.abort();
    for (let i = 0; i < 100 && ui.stats.streams.clients > 1; i++) await new Promise((r) => setTimeout(r, 10));
    const big = 'x'.repeat(250);
    for (let round = 0; round < 1000 && ui.stats.streams.dropped === 0; round++) {
      for (let i = 0; i < 200; i++) ui.record({ allowed: false, code: 'ERR_SCOPE_RESOURCE', subject: big, resource: big, tool: big, mode: 'signed' } as never);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(ui.stats.streams.dropped, 1);
    const metrics = await (await request(url + '/metrics')).body.text();
    assert.match(metrics, /^capframe_console_streams_dropped_total 1$/m);
    assert.match(metrics, /^capframe_console_streams_refused_total 1$/m);
    assert.equal(ui.stats.streams.clients, 0);
    // The server closed its side: once the reader reads again, it finds the stream ended.
    const closed = new Promise((r) => stalled.once('close', r));
    stalled.resume();
    await closed;
  } finally {
    for (const c of streams) c.abort();
    await service.close();
  }
});

test('config: server.console is validated, with safe defaults', () => {
  const base = `trust:\n  authorities:\n    - ${formatPublicKey(generateKey().publicKey)}\nserver:\n  port: 0\n`;
  const c = parseServerConfig(base + '  console:\n    views: public\n    sessionTtl: 30m\n', { env: {} });
  assert.equal(c.server.console?.views, 'public');
  assert.equal(c.server.console?.sessionTtl, 30 * 60_000);
  assert.equal(c.server.console?.enabled, true);
  for (const bad of ['    views: everyone\n', '    publicOrigin: https://x.example/ui\n', '    maxStreams: 0\n', '    colour: red\n']) {
    assert.throws(
      () => parseServerConfig(base + '  console:\n' + bad, { env: {} }),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_CONFIG' && /console/.test(e.message),
      bad,
    );
  }
});

test('audit checkpoint: "verified" only when the signature checks under the configured checkpoint key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-console-cp-'));
  const signer = keySigner(generateKey());
  const log = AuditLog.open({ path: join(dir, 'audit.jsonl'), checkpoint: { signer, everyLines: 1000, everySeconds: 0 } });
  const services = [];
  try {
    log.write({ decision: 'allow', tool: 't', subject: 'agent:a' });
    await log.checkpoint();
    const audit = (checkpointKey: Uint8Array) => ({
      get head() {
        return log.head;
      },
      get lastCheckpoint() {
        return log.lastCheckpoint;
      },
      checkpointFailures: 0,
      checkpointKey,
    });
    for (const [key, verified] of [
      [signer.publicKey, true],
      [generateKey().publicKey, false],
    ] as const) {
      const ui = createConsole({ views: 'public', assets: new Map(), audit: audit(key) });
      const service = createVerifyService({ verifier: new Verifier({ trusted: [] }), console: ui });
      services.push(service);
      const { url } = await service.listen();
      const r = await call(url, '/ui/api/checkpoint');
      assert.equal(r.status, 200);
      assert.deepEqual([(r.json.last as { verified: boolean }).verified, (r.json.last as { at: number }).at], [verified, 1]);
    }
  } finally {
    for (const s of services) await s.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('delegation trees: a root the authority issued shows with its subject, the profile grants and its expiry', async () => {
  const fx = await startConsoleFixture();
  try {
    const { cookie } = await login(fx.url);
    await fx.enrol('agent:support:3');
    await new Promise((r) => setTimeout(r, 250));
    const r = await call(fx.url, '/ui/api/trees', { headers: { cookie } });
    const trees = r.json.trees as { subject: string; issuedBy: string | null; grants: string[]; expiresAt: number; allowed: number; children: unknown[] }[];
    const t = trees.find((x) => x.subject === 'agent:support:3');
    assert.ok(t);
    assert.equal(t.issuedBy, 'authority');
    assert.deepEqual(t.grants, ['tickets://acme/* [read]']);
    assert.ok(t.expiresAt > Date.now() / 1000);
    assert.equal(t.allowed, 1);
    assert.equal(t.children.length, 0);
  } finally {
    await fx.close();
  }
});
