import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CapframeError, ScopeResourceError } from '../../src/errors.ts';
import { createInvocation, formatPublicKey, generateKey, issueToken, Verifier, type Decision, type LocalCall } from '../../src/index.ts';
import { AuditLog, verifyAuditLog } from '../../src/audit/index.ts';
import { createVerifyService, startService, type VerifyService } from '../../src/server/index.ts';
import { loadServerConfig, parseServerConfig } from '../../src/config/server.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:support',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [
    { resource: 'tickets://acme/*', permissions: ['read'] },
    { resource: 'mail://acme.example/*', permissions: ['send'], constraints: { to: { type: 'glob', pattern: '*@acme.example' } } },
  ],
});
const expiredToken = issueToken({
  key: authority,
  subject: 'agent:old',
  holder: holder.publicKey,
  ttl: '1m',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  clock: () => Math.floor(Date.now() / 1000) - 3600,
});
const SECRET = 'correct-horse-battery-staple-42';

let dir: string;
let service: VerifyService;
let url: string;
let audit: AuditLog;
let remote: RemoteVerifier;
const revoked: unknown[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capframe-server-'));
  audit = AuditLog.open({ path: join(dir, 'audit.jsonl'), source: 'service' });
  service = createVerifyService({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    audit,
    adminSecret: SECRET,
    revoke: (body) => {
      revoked.push(body);
      return { ok: true, changed: true };
    },
    bodyLimit: 8 * 1024,
    headersTimeout: 500,
    requestTimeout: 800,
  });
  ({ url } = await service.listen(0));
  remote = new RemoteVerifier({ url, holderKey: holder });
});

after(async () => {
  await remote.close();
  await service.close();
  audit.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(url + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not json */
  }
  return { status: res.statusCode, json, text };
}

const calls: { name: string; tok: typeof token; call: LocalCall }[] = [
  { name: 'allowed', tok: token, call: { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: 42 }, callId: 'c1' } },
  { name: 'out of scope', tok: token, call: { tool: 'get_ticket', operation: 'read', resource: 'tickets://other/1', args: { id: 1 }, callId: 'c2' } },
  { name: 'wrong permission', tok: token, call: { tool: 'update_ticket', operation: 'write', resource: 'tickets://acme/42', args: {}, callId: 'c3' } },
  {
    name: 'constraint',
    tok: token,
    call: { tool: 'send_email', operation: 'send', resource: 'mail://acme.example/out', args: { to: 'x@evil.example' }, callId: 'c4' },
  },
  { name: 'expired', tok: expiredToken, call: { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: {}, callId: 'c5' } },
  { name: 'traversal', tok: token, call: { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/%2e%2e/admin', args: {}, callId: 'c6' } },
];

test('remote decisions equal local ones: same allowed flag, code, fields and error class', async () => {
  const local = new Verifier({ trusted: [authority.publicKey] });
  for (const { name, tok, call } of calls) {
    const l = await local.authorize(tok, call);
    const r = await remote.verifyCall(tok, call);
    assert.equal(r.allowed, l.allowed, name);
    assert.equal(r.mode, 'signed', name);
    if (!l.allowed && !r.allowed) {
      assert.equal(r.code, l.code, name);
      assert.ok(r.error instanceof CapframeError, name);
      assert.equal(r.error.code, l.code, name);
      assert.equal(r.error.constructor, l.error.constructor, name);
    }
    if (l.allowed && r.allowed) {
      assert.deepEqual(r.grant, l.grant);
      assert.equal(r.expiresAt, l.expiresAt);
      assert.deepEqual(r.chainIds, l.chainIds);
      assert.equal(r.subject, 'agent:support');
      assert.equal(r.argsDigest, l.argsDigest);
      assert.equal(r.resource, 'tickets://acme/42');
    }
  }
  const denied = await remote.verifyCall(token, calls[1]!.call);
  assert.ok(!denied.allowed && denied.error instanceof ScopeResourceError);
});

test('concurrent calls share /v1/verify/batch round trips; each gets its own decision', async () => {
  const before = service.metrics.count('allow');
  const ds = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      remote.verifyCall(token, {
        tool: 'get_ticket',
        operation: 'read',
        resource: i % 4 === 3 ? 'tickets://other/1' : `tickets://acme/${i}`,
        args: { id: i },
        callId: `batch-${i}`,
      }),
    ),
  );
  ds.forEach((d, i) => {
    assert.equal(d.allowed, i % 4 !== 3, `call ${i}`);
    assert.equal(d.callId, `batch-${i}`);
    if (!d.allowed) assert.equal(d.code, 'ERR_SCOPE_RESOURCE');
  });
  assert.equal(service.metrics.count('allow') - before, 30);
  const m = await (await request(url + '/metrics')).body.text();
  assert.match(m, /capframe_http_requests_total\{route="\/v1\/verify\/batch",status="200"\} [1-9]/);
  // raw batches: one bad element is denied alone; bad envelopes are 400
  const proof = createInvocation(token, {
    key: holder,
    tool: 't',
    operation: 'read',
    resource: 'tickets://acme/5',
    args: {},
    callId: 'raw-batch-1',
  }).toString();
  const r = await post(
    '/v1/verify/batch',
    JSON.stringify({
      requests: [{ token: token.toString(), invocation: proof, tool: 't', operation: 'read', resource: 'tickets://acme/5', args: {} }, { token: 1 }],
    }),
  );
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.json.decisions.map((d: { allowed: boolean; code?: string }) => [d.allowed, d.code]),
    [
      [true, undefined],
      [false, 'ERR_MALFORMED'],
    ],
  );
  for (const bad of ['[]', '{"requests":[]}', '{"requests":{}}', `{"requests":[${'{},'.repeat(64)}{}]}`, '{"requests":[{}],"x":1}']) {
    const b = await post('/v1/verify/batch', bad);
    assert.deepEqual([b.status, b.json.code], [400, 'ERR_MALFORMED'], bad.slice(0, 40));
  }
});

test('replayed call ids are denied by the service', async () => {
  const call = { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/7', args: { id: 7 }, callId: 'replay-1' };
  assert.equal((await remote.verifyCall(token, call)).allowed, true);
  const again = await remote.verifyCall(token, call);
  assert.equal(again.allowed, false);
  assert.equal(!again.allowed && again.code, 'ERR_REPLAY');
});

test('verifyInvocation forwards a proof; swapped arguments are a mismatch', async () => {
  const proof = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/9', args: { id: 9 } });
  const swapped = await remote.verifyInvocation(token, proof, { tool: 'get_ticket', args: { id: 10 }, operation: 'read', resource: 'tickets://acme/9' });
  assert.equal(!swapped.allowed && swapped.code, 'ERR_INVOCATION_MISMATCH');
  const wrongTool = await remote.verifyInvocation(token.toString(), proof.toString(), {
    tool: 'delete_ticket',
    args: { id: 9 },
    operation: 'read',
    resource: 'tickets://acme/9',
  });
  assert.equal(!wrongTool.allowed && wrongTool.code, 'ERR_INVOCATION_MISMATCH');
  const ok = await remote.verifyInvocation(token, proof.bytes, { tool: 'get_ticket', args: { id: 9 }, operation: 'read', resource: 'tickets://acme/9' });
  assert.equal(ok.allowed, true);
  const other = generateKey();
  const forged = createInvocation(
    issueToken({ key: other, subject: 's', holder: holder.publicKey, ttl: '1h', grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }] }),
    { key: holder, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/9', args: {} },
  );
  const bad = await remote.verifyInvocation(token, forged, { tool: 'get_ticket', args: {}, operation: 'read', resource: 'tickets://acme/9' });
  assert.equal(!bad.allowed && bad.code, 'ERR_INVOCATION_MISMATCH');
});

test('remote verifyCall without a holder key, or with the wrong one, is denied before any request', async () => {
  const noKey = new RemoteVerifier({ url });
  const d = await noKey.verifyCall(token, { ...calls[0]!.call, callId: 'nokey' });
  assert.equal(!d.allowed && d.code, 'ERR_CONFIG');
  await noKey.close();
  const wrongKey = new RemoteVerifier({ url, holderKey: generateKey() });
  const w = await wrongKey.verifyCall(token, { ...calls[0]!.call, callId: 'wrongkey' });
  assert.equal(!w.allowed && w.code, 'ERR_INVALID_ARGUMENT');
  await wrongKey.close();
});

test('fail closed when the service cannot be reached; an explicit local fallback decides instead', async () => {
  const dead = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey] }) });
  const { url: deadUrl } = await dead.listen(0);
  await dead.close();
  const client = new RemoteVerifier({ url: deadUrl, holderKey: holder, timeout: 1000 });
  const d = await client.verifyCall(token, { ...calls[0]!.call, callId: 'down-1' });
  assert.equal(d.allowed, false);
  assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
  assert.ok(!d.allowed && d.error instanceof CapframeError && d.error.code === 'ERR_UNAVAILABLE');
  await client.close();
  // a wrong path (404) is not a decision either
  const wrongPath = new RemoteVerifier({ url: url + '/nope', holderKey: holder });
  const n = await wrongPath.verifyCall(token, { ...calls[0]!.call, callId: 'down-2' });
  assert.equal(!n.allowed && n.code, 'ERR_UNAVAILABLE');
  await wrongPath.close();
  const withFallback = new RemoteVerifier({ url: deadUrl, holderKey: holder, fallback: new Verifier({ trusted: [authority.publicKey] }) });
  const f = await withFallback.verifyCall(token, { ...calls[0]!.call, callId: 'down-3' });
  assert.equal(f.allowed, true);
  const g = await withFallback.verifyCall(token, { ...calls[1]!.call, callId: 'down-4' });
  assert.equal(!g.allowed && g.code, 'ERR_SCOPE_RESOURCE');
  await withFallback.close();
});

test('hostile bodies get 4xx with a code and never reach the verifier', async () => {
  const good = {
    token: token.toString(),
    invocation: createInvocation(token, { key: holder, tool: 't', operation: 'read', resource: 'tickets://acme/1', args: {} }).toString(),
    tool: 't',
    operation: 'read',
    resource: 'tickets://acme/1',
    args: {},
  };
  let r = await post('/v1/verify', '{"token": ');
  assert.deepEqual([r.status, r.json.code], [400, 'ERR_MALFORMED']);
  r = await post('/v1/verify', JSON.stringify({ ...good, tool: 42 }));
  assert.deepEqual([r.status, r.json.code], [400, 'ERR_MALFORMED']);
  assert.match(r.json.reason, /tool/);
  r = await post('/v1/verify', JSON.stringify({ ...good, args: [1, 2] }));
  assert.deepEqual([r.status, r.json.code], [400, 'ERR_MALFORMED']);
  r = await post('/v1/verify', JSON.stringify({ ...good, extra: 1 }));
  assert.deepEqual([r.status, r.json.code], [400, 'ERR_MALFORMED']);
  r = await post('/v1/verify', 'null');
  assert.deepEqual([r.status, r.json.code], [400, 'ERR_MALFORMED']);
  r = await post('/v1/verify', JSON.stringify({ ...good, token: 'cft1.' + 'A'.repeat(9000) }));
  assert.deepEqual([r.status, r.json.code], [413, 'ERR_TOO_LARGE']);
  // deeply nested and prototype-named arguments: a denial, not a crash
  const deep = '{"a":'.repeat(1000) + '1' + '}'.repeat(1000);
  r = await post(
    '/v1/verify',
    `{"token":"${good.token}","invocation":"${good.invocation}","tool":"t","operation":"read","resource":"tickets://acme/1","args":${deep}}`,
  );
  assert.equal(r.status, 200);
  assert.equal(r.json.allowed, false);
  assert.equal(r.json.code, 'ERR_INVALID_ARGUMENT');
  r = await post(
    '/v1/verify',
    `{"token":"${good.token}","invocation":"${good.invocation}","tool":"t","operation":"read","resource":"tickets://acme/1","args":{"__proto__":{"x":1}}}`,
  );
  assert.equal(r.status, 200);
  assert.equal(r.json.allowed, false);
  // valid envelope, garbage credentials
  r = await post('/v1/verify', JSON.stringify({ ...good, token: 'cft1.AAAA' }));
  assert.deepEqual([r.status, r.json.allowed, r.json.code], [200, false, 'ERR_MALFORMED']);
  // wrong method, unknown path
  const g = await request(url + '/v1/verify');
  assert.equal(g.statusCode, 405);
  await g.body.dump();
  const nf = await request(url + '/nothing');
  assert.equal(nf.statusCode, 404);
  await nf.body.dump();
  // the service still answers
  const ok = await remote.verifyCall(token, { ...calls[0]!.call, callId: 'after-hostile' });
  assert.equal(ok.allowed, true);
});

function rawExchange(payload: string | Buffer, opts: { keepOpen?: boolean } = {}): Promise<string> {
  const port = Number(new URL(url).port);
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
    });
    s.on('error', () => resolve(data));
    s.on('close', () => resolve(data));
    s.write(payload);
    if (!opts.keepOpen) s.end();
  });
}

test('oversized (declared and streamed), garbage and slow requests are cut off; others are served meanwhile', async () => {
  const declared = await rawExchange(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{`, {
    keepOpen: true,
  });
  assert.match(declared, /^HTTP\/1.1 413/);
  const chunk = 'a'.repeat(4096);
  const streamed = await rawExchange(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` + `1000\r\n${chunk}\r\n`.repeat(4), {
    keepOpen: true,
  });
  assert.match(streamed, /^HTTP\/1.1 413/);
  const garbage = await rawExchange(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]));
  assert.match(garbage, /^HTTP\/1.1 400/);
  // slow headers and a slow body: closed by the deadlines while a normal client is served
  const slowHeaders = rawExchange('POST /v1/verify HTTP/1.1\r\nHost: x\r\n', { keepOpen: true });
  const slowBody = rawExchange('POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"tok', { keepOpen: true });
  const during = await remote.verifyCall(token, { ...calls[0]!.call, callId: 'during-slow' });
  assert.equal(during.allowed, true);
  const [h, b] = await Promise.all([slowHeaders, slowBody]);
  assert.match(h, /^(HTTP\/1.1 408|)/);
  assert.match(b, /^(HTTP\/1.1 408|)/);
  const metrics = await (await request(url + '/metrics')).body.text();
  assert.match(metrics, /capframe_rejected_requests_total\{reason="too_large"\} [1-9]/);
  assert.match(metrics, /capframe_rejected_requests_total\{reason="timeout"\} [1-9]/);
});

test('/v1/revoke: 401 without the admin secret and nothing changes; 200 with it', async () => {
  const before = revoked.length;
  let r = await post('/v1/revoke', JSON.stringify({ subject: 'agent:x' }));
  assert.equal(r.status, 401);
  r = await post('/v1/revoke', JSON.stringify({ subject: 'agent:x' }), { authorization: 'Bearer wrong-secret-of-any-length' });
  assert.equal(r.status, 401);
  r = await post('/v1/revoke', JSON.stringify({ subject: 'agent:x' }), { authorization: `Bearer ${SECRET}x` });
  assert.equal(r.status, 401);
  r = await post('/v1/revoke', JSON.stringify({ subject: 'agent:x' }), { authorization: `Basic ${SECRET}` });
  assert.equal(r.status, 401);
  assert.equal(revoked.length, before);
  r = await post('/v1/revoke', JSON.stringify({ subject: 'agent:x' }), { authorization: `Bearer ${SECRET}` });
  assert.equal(r.status, 200);
  assert.deepEqual(revoked.at(-1), { subject: 'agent:x' });
  // no secret configured: always 401
  const s = createVerifyService({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    revoke: () => {
      throw new Error('must not run');
    },
  });
  const { url: u } = await s.listen(0);
  const res = await request(u + '/v1/revoke', { method: 'POST', body: '{}', headers: { authorization: 'Bearer ' } });
  assert.equal(res.statusCode, 401);
  await res.body.dump();
  await s.close();
});

test('healthz, metrics and the audit log see every decision', async () => {
  const h = await request(url + '/healthz');
  assert.deepEqual(await h.body.json(), { status: 'ok' });
  const m = await request(url + '/metrics');
  assert.match(String(m.headers['content-type']), /text\/plain/);
  const text = await m.body.text();
  assert.match(text, /capframe_decisions_total\{decision="deny",code="ERR_REPLAY"\} 1\n/);
  assert.match(text, /capframe_decisions_total\{decision="allow",code="OK"\} \d+/);
  assert.match(text, /capframe_verify_duration_seconds_bucket\{le="\+Inf"\} \d+/);
  assert.match(text, /capframe_verify_duration_seconds_count \d+/);
  const r = verifyAuditLog(audit.path);
  assert.equal(r.ok, true);
  assert.equal(r.lines, service.metrics.count('allow') + [...text.matchAll(/decision="deny",code="[A-Z_]+"\} (\d+)/g)].reduce((a, x) => a + Number(x[1]), 0));
  const log = readFileSync(audit.path, 'utf8');
  assert.ok(!log.includes(token.toString().slice(5, 60)));
  assert.ok(!log.includes('evil.example'));
  const lines = log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.code === 'ERR_CONSTRAINT' && l.source === 'service' && l.tool === 'send_email'));
});

test('an audit log that cannot be written turns allowed calls into ERR_UNAVAILABLE', async () => {
  const s = createVerifyService({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    audit: () => {
      throw new Error('disk full');
    },
  });
  const { url: u } = await s.listen(0);
  const c = new RemoteVerifier({ url: u, holderKey: holder });
  const d: Decision = await c.verifyCall(token, { ...calls[0]!.call, callId: 'audit-down' });
  assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
  await c.close();
  await s.close();
});

test('config: server section validated with file:line messages; serve from YAML', async () => {
  const yaml = (server: string) => `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\nserver:\n${server}\n`;
  assert.throws(
    () => parseServerConfig(yaml('  port: 8787\n  bogus: 1'), { file: 'c.yaml' }),
    (e: CapframeError) => e.code === 'ERR_CONFIG' && /^c\.yaml:6 server\.bogus: unknown field$/.test(e.message),
  );
  assert.throws(
    () => parseServerConfig(yaml('  port: "x"'), { file: 'c.yaml' }),
    (e: CapframeError) => /c\.yaml:5 server\.port/.test(e.message),
  );
  assert.throws(() => parseServerConfig(yaml('  requestTimeout: soon'), { file: 'c.yaml' }), /server\.requestTimeout/);
  assert.throws(() => parseServerConfig(yaml('  port: 1'), { file: 'c.yaml', env: { CAPFRAME_ADMIN_SECRET: 'short' } }), /at least 16/);
  const d = parseServerConfig(yaml('  port: 0'), { env: {} });
  assert.equal(d.server.host, '127.0.0.1');
  assert.equal(d.server.requestTimeout, 10_000);
  assert.equal(d.adminSecret, undefined);
  // errors in the shared part keep their line numbers
  assert.throws(() => parseServerConfig(`server:\n  port: 0\ntrust:\n  authorities: []\n`, { file: 'c.yaml' }), /c\.yaml:4 trust\.authorities/);

  const file = join(dir, 'capframe.yaml');
  writeFileSync(
    file,
    yaml(`  port: 0\n  requestTimeout: 8s\n  audit:\n    path: ./served-audit.jsonl\n    maxBytes: 8192`) +
      'replay:\n  store: sqlite\n  path: ./served-replay.db\n',
  );
  const running = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  try {
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const c = new RemoteVerifier({ url: running.url, holderKey: holder });
    for (let i = 0; i < 60; i++) {
      const dd = await c.verifyCall(token, { ...calls[i % 2]!.call, callId: `yaml-${i}` });
      assert.equal(dd.allowed, i % 2 === 0);
    }
    await c.close();
    const res = await request(running.url + '/v1/revoke', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${SECRET}` } });
    assert.equal(res.statusCode, 501); // authenticated, but no registry wired
    await res.body.dump();
  } finally {
    await running.close();
  }
  const r = verifyAuditLog(join(dir, 'served-audit.jsonl'));
  assert.equal(r.ok, true);
  assert.equal(r.lines, 60);
  assert.ok(r.files.length > 1);
});

test('what cannot be opened is ERR_CONFIG naming it: an audit path under a file, a registry path under a file, a port in use', async () => {
  const { RevocationRegistry } = await import('../../src/revocation/index.ts');
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');
  const config = (e: unknown, what: RegExp) => e instanceof CapframeError && e.code === 'ERR_CONFIG' && what.test(e.message);
  assert.throws(
    () => AuditLog.open({ path: join(blocker, 'audit.jsonl') }),
    (e) => config(e, /cannot open the audit log .*a-file/),
  );
  assert.throws(
    () => new RevocationRegistry({ path: join(blocker, 'r.db') }),
    (e) => config(e, /cannot open the revocation registry .*a-file/),
  );
  const yaml = `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\nserver:\n  port: 0\n`;
  const first = await startService(parseServerConfig(yaml, { env: {} }));
  try {
    await assert.rejects(startService(parseServerConfig(yaml, { env: {} }), { port: first.port }), (e) => config(e, /cannot listen on 127\.0\.0\.1:\d+/));
  } finally {
    await first.close();
  }
});
