/**
 * Regression tests of the console security review: login limiter races and
 * lockout, streams outliving their session, Host checks (DNS rebinding),
 * stream slots kept for sessions, out-of-range times, the unbuilt page, and
 * what the audit log records of console logins and revokes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { createConsole } from '../../src/server/console/index.ts';
import { createVerifyService } from '../../src/server/service.ts';
import { Verifier } from '../../src/verify/verifier.ts';
import { unix, when } from '../../console/src/time.ts';
import { checkCutoff, MAX_CUTOFF, RevocationRegistry } from '../../src/revocation/registry.ts';
import { EnrolmentStore } from '../../src/authority/enrolments.ts';
import { generateKey } from '../../src/index.ts';
import { SECRET as FIXTURE_SECRET, startConsoleFixture } from './fixture.ts';

const SECRET = 'hardening-admin-secret-0123456789';

async function login(url: string, secret: string, headers: Record<string, string> = {}): Promise<{ status: number; cookie: string; csrf: string }> {
  const r = await request(url + '/ui/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url, ...headers },
    body: JSON.stringify({ secret }),
  });
  const j = (await r.body.json().catch(() => ({}))) as { csrf?: string };
  return { status: r.statusCode, cookie: String(r.headers['set-cookie'] ?? '').split(';')[0]!, csrf: j.csrf ?? '' };
}

async function serve(o: Parameters<typeof createConsole>[0]) {
  const ui = createConsole(o);
  const service = createVerifyService({ verifier: new Verifier({ trusted: [] }), console: ui });
  const { url, port } = await service.listen();
  return { ui, service, url, port };
}

test('times past what a Date holds show as "-" instead of breaking the page; cut-offs past year 9999 are refused', () => {
  assert.equal(unix(9e12), '-');
  assert.equal(when(9e15), '-');
  assert.equal(unix(0), '1970-01-01 00:00:00');
  assert.equal(when(1000), '1970-01-01 00:00:01.000');
  assert.doesNotThrow(() => checkCutoff('AAAAAAAAAAA', MAX_CUTOFF));
  assert.throws(() => checkCutoff('AAAAAAAAAAA', MAX_CUTOFF + 1), /at most/);
});

test('an unbuilt page answers 503 without the install path', async () => {
  const { service, url } = await serve({ views: 'public', pageDir: '/nonexistent/capframe-secret-path/ui/' });
  try {
    const r = await request(url + '/ui/');
    const text = await r.body.text();
    assert.equal(r.statusCode, 503);
    assert.equal(text.includes('/nonexistent'), false);
    assert.equal(text.includes('capframe-secret-path'), false);
  } finally {
    await service.close();
  }
});

/** Sends each login's headers at once and its body `delay` ms later (the limiter has answered by then); returns the statuses. */
async function loginsHeadersFirst(port: number, origin: string, secrets: string[], delay: number, localAddress = '127.0.0.1'): Promise<number[]> {
  const socks = secrets.map((secret) => {
    const body = JSON.stringify({ secret });
    const s = connect({ port, host: '127.0.0.1', localAddress });
    s.on('error', () => {});
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.write(
      `POST /ui/api/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    return { s, body, out: () => out };
  });
  await new Promise((r) => setTimeout(r, delay));
  for (const x of socks) if (!x.s.destroyed) x.s.write(x.body);
  const statuses: number[] = [];
  for (const x of socks) {
    for (let i = 0; i < 200 && !/^HTTP\/1\.1 \d{3}/.test(x.out()); i++) await new Promise((r) => setTimeout(r, 10));
    statuses.push(Number(x.out().slice(9, 12)));
    x.s.destroy();
  }
  return statuses;
}

test('login limiter: 10 logins sent together (bodies 300 ms after the headers) get at most 5 wrong-secret answers', async () => {
  const { service, url, port } = await serve({ adminSecret: SECRET, assets: new Map() });
  try {
    const statuses = await loginsHeadersFirst(
      port,
      url,
      Array.from({ length: 10 }, (_, i) => `guess-${i}`),
      300,
    );
    const wrong = statuses.filter((s) => s === 401).length;
    assert.ok(wrong <= 5, `${wrong} guesses were compared: ${statuses.join(',')}`);
    assert.ok(
      statuses.every((s) => s === 401 || s === 429),
      statuses.join(','),
    );
    // Sequential guesses are still capped at 5 per address.
    for (let i = 0; i < 6; i++) await login(url, `again-${i}`);
    assert.equal((await login(url, SECRET)).status, 429);
  } finally {
    await service.close();
  }
});

test('login limiter: one address sending many wrong logins cannot lock out another address', async () => {
  const { service, url, port } = await serve({ adminSecret: SECRET, assets: new Map() });
  try {
    for (let round = 0; round < 2; round++) {
      await loginsHeadersFirst(
        port,
        url,
        Array.from({ length: 50 }, (_, i) => `flood-${round}-${i}`),
        300,
      );
      for (let i = 0; i < 6; i++) await login(url, `flood-seq-${i}`);
    }
    const [admin] = await loginsHeadersFirst(port, url, [SECRET], 0, '127.0.0.2');
    assert.equal(admin, 200);
  } finally {
    await service.close();
  }
});

test('POST /v1/revoke: wrong bearer secrets are limited like logins (429), and share the count with console logins', async () => {
  const { service, url } = await serve({ adminSecret: SECRET, assets: new Map() });
  try {
    const revoke = async (secret: string) => {
      const r = await request(url + '/v1/revoke', {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: 'agent:x' }),
      });
      await r.body.text();
      return r.statusCode;
    };
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await revoke(`wrong-${i}`));
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    assert.equal(await revoke(SECRET), 429);
    assert.equal((await login(url, SECRET)).status, 429);
  } finally {
    await service.close();
  }
});

/** A live-decision stream over a raw socket from `localAddress`: its status, and a promise that settles when the server closes it. */
async function openStream(port: number, o: { cookie?: string; localAddress?: string; host?: string } = {}) {
  const s = connect({ port, host: '127.0.0.1', localAddress: o.localAddress ?? '127.0.0.1' });
  s.on('error', () => {});
  let out = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (out += c));
  const closed = new Promise<number>((r) => s.once('close', () => r(Date.now())));
  s.write(`GET /ui/api/decisions/stream HTTP/1.1\r\nHost: ${o.host ?? `127.0.0.1:${port}`}\r\n${o.cookie ? `Cookie: ${o.cookie}\r\n` : ''}\r\n`);
  for (let i = 0; i < 200 && !/^HTTP\/1\.1 \d{3}/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
  return { status: Number(out.slice(9, 12)), socket: s, closed };
}

test('a live stream ends with its login: within 1 s of the logout, and within 1 s of the session expiring', async () => {
  const { service, url, port } = await serve({ adminSecret: SECRET, assets: new Map(), sessionTtl: 1000 });
  const sockets = [];
  try {
    const a = await login(url, SECRET);
    const stream = await openStream(port, { cookie: a.cookie });
    sockets.push(stream.socket);
    assert.equal(stream.status, 200);
    const out = await request(url + '/ui/api/logout', {
      method: 'POST',
      headers: { cookie: a.cookie, origin: url, 'x-capframe-csrf': a.csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    await out.body.text();
    assert.equal(out.statusCode, 200);
    const loggedOut = Date.now();
    const t = await Promise.race([stream.closed, new Promise<number>((r) => setTimeout(() => r(-1), 1000))]);
    assert.ok(t !== -1 && t - loggedOut <= 1000, 'the stream outlived the logout');

    const b = await login(url, SECRET);
    const expiring = await openStream(port, { cookie: b.cookie });
    sockets.push(expiring.socket);
    assert.equal(expiring.status, 200);
    const expiresAt = Date.now() + 1000;
    const u = await Promise.race([expiring.closed, new Promise<number>((r) => setTimeout(() => r(-1), 2500))]);
    assert.ok(u !== -1 && u - expiresAt <= 1100, 'the stream outlived its session');
  } finally {
    for (const s of sockets) s.destroy();
    await service.close();
  }
});

test('views: public: anonymous streams cannot take the slots kept for logged-in readers', async () => {
  const { service, url, port } = await serve({ adminSecret: SECRET, assets: new Map(), views: 'public', maxStreams: 4 });
  const sockets = [];
  try {
    const anonymous = [];
    for (const localAddress of ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']) {
      const s = await openStream(port, { localAddress });
      sockets.push(s.socket);
      anonymous.push(s.status);
    }
    assert.deepEqual(anonymous, [200, 200, 200, 503]);
    const a = await login(url, SECRET, {});
    const admin = await openStream(port, { cookie: a.cookie, localAddress: '127.0.0.3' });
    sockets.push(admin.socket);
    assert.equal(admin.status, 200);
  } finally {
    for (const s of sockets) s.destroy();
    await service.close();
  }
});

test('DNS rebinding: a /ui request whose Host is not this service gets 421, reads and logins alike', async () => {
  const { service, url, port } = await serve({
    adminSecret: SECRET,
    assets: new Map(),
    views: 'public',
    publicOrigin: 'https://console.example',
    hosts: ['capframe.internal'],
  });
  try {
    const status = async (path: string, host: string, body?: unknown) => {
      const r = await request(url + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { host, ...(body === undefined ? {} : { 'content-type': 'application/json', origin: `http://${host}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      await r.body.text();
      return r.statusCode;
    };
    assert.equal(await status('/ui/api/agents', 'attacker.example'), 421);
    assert.equal(await status('/ui/api/agents', `attacker.example:${port}`), 421);
    assert.equal(await status('/ui/api/decisions', `127.0.0.1.attacker.example:${port}`), 421);
    assert.equal(await status('/ui/api/login', `attacker.example:${port}`, { secret: SECRET }), 421);
    assert.equal((await openStream(port, { host: 'attacker.example' })).status, 421);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'console.example', `capframe.internal:${port}`]) {
      assert.equal(await status('/ui/api/agents', host), 200, host);
    }
    // Other routes are not the console's to judge.
    assert.equal((await request(url + '/healthz', { headers: { host: 'attacker.example' } })).statusCode, 200);
  } finally {
    await service.close();
  }
});

test('revocations and agents pages read bounded pages (LIMIT 500), and revocations only again once the registry changed', async () => {
  const registry = new RevocationRegistry({ path: ':memory:' });
  const store = new EnrolmentStore({ path: ':memory:' });
  registry.revokeIds(Array.from({ length: 1200 }, (_, i) => i.toString(16).padStart(32, '0')));
  for (let i = 0; i < 520; i++) store.enrol({ subject: `agent:a${i}`, holder: generateKey().publicKey, profile: 'p', via: 'admin', now: 1 });
  const reads: string[] = [];
  const agentReads: unknown[] = [];
  const { service, url } = await serve({
    views: 'public',
    assets: new Map(),
    revocation: {
      revoke: () => ({}),
      state: undefined as never,
      version: () => registry.version,
      page(limit: number) {
        reads.push(`page ${limit}`);
        return registry.page(limit);
      },
      view(since?: number) {
        reads.push(`view ${since ?? 0}`);
        return registry.view(since);
      },
    } as never,
    authority: {
      audience: 'a',
      agents(limit?: number) {
        agentReads.push(limit);
        return store.page(limit ?? 0);
      },
    } as never,
  });
  try {
    const get = async (path: string) => (await request(url + path)).body.json() as Promise<Record<string, unknown>>;
    const first = await get('/ui/api/revocations');
    assert.deepEqual(first.totals, { ids: 1200, subjects: 0, cutoffs: 0 });
    assert.equal((first.ids as { seq: number }[]).length, 500);
    assert.equal((first.ids as { seq: number }[])[0]!.seq, 1200);
    await get('/ui/api/revocations');
    assert.deepEqual(reads, ['page 500']);
    registry.revokeSubject('agent:gone');
    const third = await get('/ui/api/revocations');
    assert.deepEqual(third.subjects, ['agent:gone']);
    assert.deepEqual(reads, ['page 500', 'page 500']);
    const agents = await get('/ui/api/agents');
    assert.equal(agents.total, 520);
    assert.equal((agents.agents as unknown[]).length, 500);
    assert.deepEqual(agentReads, [500]);
  } finally {
    await service.close();
    registry.close();
    store.close();
  }
});

test('audit: console logins, refused logins, logouts and revokes are audit lines (mode console), never with the secret; a cut-off past year 9999 is refused', async () => {
  const fx = await startConsoleFixture();
  try {
    const wrong = 'wrong-guess-never-logged-123';
    assert.equal((await login(fx.url, wrong)).status, 401);
    const a = await login(fx.url, FIXTURE_SECRET);
    assert.equal(a.status, 200);
    const post = async (path: string, body: unknown) => {
      const r = await request(fx.url + path, {
        method: 'POST',
        headers: { cookie: a.cookie, origin: fx.url, 'x-capframe-csrf': a.csrf, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await r.body.text();
      return r.statusCode;
    };
    assert.equal(await post('/ui/api/revoke', { subject: 'agent:audited' }), 200);
    assert.equal(await post('/ui/api/revoke', { kid: 'AAAAAAAAAAA', before: 9e12 }), 400);
    const v1 = await request(fx.url + '/v1/revoke', {
      method: 'POST',
      headers: { authorization: `Bearer ${FIXTURE_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kid: 'AAAAAAAAAAA', before: MAX_CUTOFF + 1 }),
    });
    await v1.body.text();
    assert.equal(v1.statusCode, 400);
    assert.equal(await post('/ui/api/logout', {}), 200);
    await fx.running.audit!.checkpoint();
    const text = readFileSync(join(fx.dir, 'audit.jsonl'), 'utf8');
    assert.equal(text.includes(FIXTURE_SECRET), false);
    assert.equal(text.includes(wrong), false);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.source === 'console');
    assert.deepEqual(
      lines.map((l) => [l.operation, l.decision, l.code ?? null, l.subject, l.mode ?? null]),
      [
        ['login', 'deny', 'ERR_UNAUTHORIZED', 'admin', null],
        ['login', 'allow', null, 'admin', null],
        ['revoke', 'allow', null, 'admin', 'console'],
        ['logout', 'allow', null, 'admin', null],
      ],
    );
    assert.equal(lines[2]!.resource, 'subject:agent:audited');
    assert.match(String(lines[0]!.resource), /^client:(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/);
  } finally {
    await fx.close();
  }
});

test('every route that takes the admin secret counts wrong guesses in one limiter: /v1/approvals, /v1/disenrol, /v1/enrolments, then the console login', async () => {
  const fx = await startConsoleFixture();
  try {
    const post = async (path: string, secret: string, body: unknown) => {
      const r = await request(fx.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await r.body.text();
      return r.statusCode;
    };
    const get = async (path: string, secret: string) => {
      const r = await request(fx.url + path, { headers: { authorization: `Bearer ${secret}` } });
      await r.body.text();
      return r.statusCode;
    };
    const statuses = [
      await get('/v1/approvals', 'wrong-1'),
      await post('/v1/approvals', 'wrong-2', { request: {} }),
      await post('/v1/disenrol', 'wrong-3', { subject: 'agent:x' }),
      await post('/v1/enrolments', 'wrong-4', { request: 'cfq1.x' }),
      await post('/v1/disenrol', 'wrong-5', { subject: 'agent:x' }),
    ];
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    // The sixth guess, even with the right secret, waits: on every admin route and at the console.
    assert.equal(await get('/v1/approvals', FIXTURE_SECRET), 429);
    assert.equal(await post('/v1/disenrol', FIXTURE_SECRET, { subject: 'agent:x' }), 429);
    assert.equal((await login(fx.url, FIXTURE_SECRET)).status, 429);
    // A request without any secret guesses nothing: the enrolment-code path stays open to agents.
    const r = await request(fx.url + '/v1/enrolments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await r.body.text();
    assert.notEqual(r.statusCode, 429);
  } finally {
    await fx.close();
  }
});
