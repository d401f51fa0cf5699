/**
 * Review of the revocation, service, audit, remote-client and CLI code: one
 * test per finding (each failed before its fix). Real HTTP on 127.0.0.1
 * (port 0), real SQLite files in a temp dir, no mocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CapframeError } from '../../src/errors.ts';
import { createInvocation, formatPublicKey, generateKey, issueToken, serializePrivateKey, type Token } from '../../src/index.ts';
import { argsDigest } from '../../src/token/args.ts';
import { encode, decodeStrict, type CborMap } from '../../src/token/cbor.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { startRevocationServer } from '../../src/server/revocation-feed.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { RevocationSync } from '../../src/remote/revocation-sync.ts';
import { buildSnapshot } from '../../src/revocation/snapshot.ts';
import { AuditLog, verifyAuditLog } from '../../src/audit/index.ts';
import { parseServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-review-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

setFlagsFromString('--expose-gc');
/** A full garbage collection, so that heap figures count live memory only. */
const gc = runInNewContext('gc') as () => void;

const peakRss = () => process.resourceUsage().maxRSS * 1024;

// ------------------------------------------------------------------ snapshot parsing

test('a hostile snapshot envelope is refused from its header, without decoding it (no seconds of CPU, no GiB of memory)', () => {
  const key = generateKey();
  const state = new RevocationState({ trusted: [key.publicKey] });
  // CBOR array of 24 Mi zeros: 24 MiB on the wire, ~200 MiB as a decoded JS array.
  const n = 24 * 1024 * 1024;
  const hostile = new Uint8Array(5 + n);
  hostile.set([0x9a, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const before = Math.max(peakRss(), process.memoryUsage().rss);
  assert.throws(() => state.update(hostile), { code: 'ERR_MALFORMED' });
  assert.ok(peakRss() - before < 64 * 1024 * 1024, `peak RSS grew by ${((peakRss() - before) / 2 ** 20).toFixed(0)} MiB`);
  assert.equal(state.version, -1);
  // a genuine snapshot still goes through
  const good = buildSnapshot({ version: 3, iat: Math.floor(Date.now() / 1000), ids: [randomBytes(16)], subjects: [], cutoffs: [] }, key);
  assert.deepEqual({ ...state.update(good.text), kid: '' }, { outcome: 'installed', version: 3, kid: '' });
  // and trailing bytes / a short signature are still refused
  assert.throws(() => state.update(new Uint8Array([...good.bytes, 0])), { code: 'ERR_MALFORMED' });
  assert.throws(() => state.update(good.bytes.subarray(0, good.bytes.length - 1)), { code: 'ERR_MALFORMED' });
});

// ------------------------------------------------------------------ remote client

test('remote client: a response without content-length is capped while streaming, not buffered whole', async (t) => {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    let sent = 0;
    const pump = (): void => {
      while (sent < 96 && !res.destroyed) {
        sent++;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end('{}');
    };
    pump();
  });
  const url = await listen(server);
  t.after(() => closeServer(server));
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const remote = new RemoteVerifier({ url, holderKey: holder, timeout: 10_000, batch: false });
  t.after(() => remote.close());
  const before = Math.max(peakRss(), process.memoryUsage().rss);
  const d = await remote.verifyCall(token, { tool: 't', operation: 'read', resource: 'tickets://acme/1', args: {}, callId: 'big-1' });
  assert.equal(d.allowed, false);
  assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
  assert.ok(peakRss() - before < 48 * 1024 * 1024, `peak RSS grew by ${((peakRss() - before) / 2 ** 20).toFixed(0)} MiB`);
});

function fakeService(
  answer: (body: { tool: string }) => { status: number; headers?: Record<string, string>; body: unknown },
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => {
      const a = answer(JSON.parse(text));
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) }).end(JSON.stringify(a.body));
    });
  });
  return listen(server).then((url) => ({ url, server }));
}

test('remote client: an allow that is about another call (call id, resource, tool, arguments) is not an allow', async (t) => {
  const canonicalArgsDigestHex = Buffer.from(argsDigest({})).toString('hex');
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const allow = (over: Record<string, unknown>) => ({
    allowed: true,
    mode: 'signed',
    tool: 'get_ticket',
    operation: 'read',
    resource: 'tickets://acme/1',
    callId: 'c-1',
    argsDigest: canonicalArgsDigestHex,
    subject: 'agent:a',
    chainIds: [],
    grant: { resource: 'tickets://acme/*', permissions: ['read'], constraints: {} },
    expiresAt: 2e9,
    ...over,
  });
  let next: Record<string, unknown> = {};
  const { url, server } = await fakeService(() => ({ status: 200, body: allow(next) }));
  t.after(() => closeServer(server));
  const remote = new RemoteVerifier({ url, holderKey: holder, batch: false });
  t.after(() => remote.close());
  const call = { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: {}, callId: 'c-1' };

  const ok = await remote.verifyCall(token, call);
  assert.equal(ok.allowed, true, 'a matching answer is an allow');
  for (const over of [
    { callId: 'c-other' },
    { resource: 'tickets://acme/2' },
    { tool: 'delete_ticket' },
    { operation: 'write' },
    { argsDigest: '00'.repeat(32) },
    { argsDigest: undefined },
  ]) {
    next = over;
    const d = await remote.verifyCall(token, call);
    assert.equal(d.allowed, false, JSON.stringify(over));
    assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
  }
  // the signed path too (operation, resource and call id come from the proof)
  next = { callId: 'c-other' };
  const proof = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: {}, callId: 'c-1' });
  const d = await remote.verifyInvocation(token, proof.toString(), { tool: 'get_ticket', args: {} });
  assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
  // a redirect carrying an allow is not followed and not an allow
  next = {};
  const redirect = await fakeService(() => ({ status: 302, headers: { location: url + '/v1/verify' }, body: allow({}) }));
  t.after(() => closeServer(redirect.server));
  const r2 = new RemoteVerifier({ url: redirect.url, holderKey: holder, batch: false });
  t.after(() => r2.close());
  const d2 = await r2.verifyCall(token, call);
  assert.equal(!d2.allowed && d2.code, 'ERR_UNAVAILABLE');
});

test('remote client: a fallback that throws still answers every queued call (denied), never a hung promise', async (t) => {
  const gone = createServer();
  const url = await listen(gone);
  await closeServer(gone); // nothing listens there now
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const remote = new RemoteVerifier({
    url,
    holderKey: holder,
    maxRequests: 1,
    timeout: 2000,
    fallback: {
      verifyInvocation: () => {
        throw new Error('fallback broke');
      },
    },
  });
  t.after(() => remote.close());
  const ds = await Promise.all(
    [1, 2, 3, 4].map((i) => remote.verifyCall(token, { tool: 't', operation: 'read', resource: `tickets://acme/${i}`, args: {}, callId: `q${i}` })),
  );
  for (const d of ds) assert.equal(!d.allowed && d.code, 'ERR_UNAVAILABLE');
});

// ------------------------------------------------------------------ revocation sync

test('RevocationSync: a bad or rolled-back snapshot on poll rejects that poll; the process and the held snapshot survive', async (t) => {
  const key = generateKey();
  const now = Math.floor(Date.now() / 1000);
  const v2 = buildSnapshot({ version: 2, iat: now, ids: [randomBytes(16)], subjects: [], cutoffs: [] }, key).text;
  const v1 = buildSnapshot({ version: 1, iat: now, ids: [], subjects: [], cutoffs: [] }, key).text;
  let body = 'cfr1.AAAA';
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body + '\n');
  });
  const url = await listen(server);
  t.after(() => closeServer(server));
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  process.on('unhandledRejection', onUnhandled);
  t.after(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const state = new RevocationState({ trusted: [key.publicKey] });
  const sync = new RevocationSync({ url, state, stream: false, pollInterval: 3600, onError: () => {} });
  t.after(() => sync.stop());
  await assert.rejects(sync.start(), { code: 'ERR_MALFORMED' });
  body = v2;
  assert.deepEqual({ ...(await sync.refresh()), kid: '' }, { outcome: 'installed', version: 2, kid: '' });
  body = v1;
  await assert.rejects(sync.refresh(), { code: 'ERR_REVOCATION_ROLLBACK' });
  body = buildSnapshot({ version: 9, iat: now, ids: [], subjects: [], cutoffs: [] }, generateKey()).text;
  await assert.rejects(sync.refresh(), { code: 'ERR_UNKNOWN_KEY' });
  assert.equal(state.version, 2);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, []);
});

test('RevocationSync: an https:// authority URL is requested over TLS, not refused as a protocol error', async (t) => {
  const gone = createServer();
  const url = (await listen(gone)).replace('http:', 'https:');
  await closeServer(gone);
  const state = new RevocationState({ trusted: [generateKey().publicKey] });
  const sync = new RevocationSync({ url, state, stream: false, pollInterval: 3600, onError: () => {} });
  t.after(() => sync.stop());
  // A typed ERR_UNAVAILABLE whose cause is the refused TCP connection (not a protocol error).
  await assert.rejects(sync.start(), (e: CapframeError) => e.code === 'ERR_UNAVAILABLE' && (e.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED');
});

// ------------------------------------------------------------------ SSE stream

function stalledSubscriber(port: number): Socket {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.write('GET /v1/revocations/stream HTTP/1.1\r\nHost: x\r\n\r\n');
  s.pause(); // never reads
  return s;
}

test('SSE: subscribers that never read share one copy of each snapshot; their number is capped; HEAD does not subscribe', async (t) => {
  const key = generateKey();
  const registry = new RevocationRegistry({ path: join(tempDir(t), 'a.db') });
  registry.revokeIds(Array.from({ length: 40_000 }, () => randomBytes(16).toString('hex')));
  const srv = await startRevocationServer({ registry, key, watchMs: 20, maxSubscribers: 48 });
  const socks: Socket[] = [];
  t.after(async () => {
    for (const s of socks) s.destroy();
    await srv.close();
    registry.close();
  });
  const size = srv.handler.publisher.current().text.length;
  for (let i = 0; i < 40; i++) socks.push(stalledSubscriber(srv.port));
  while (srv.handler.subscribers < 40) await new Promise((r) => setTimeout(r, 20));
  const heap = () => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };
  const before = heap();
  for (let k = 0; k < 6; k++) {
    registry.revokeId(randomBytes(16).toString('hex'));
    const v = registry.version;
    while (srv.handler.publisher.current().version !== v) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 60));
  }
  const grown = heap() - before;
  // 40 stalled subscribers x 6 snapshots of ~1 MB each would be ~240 MB as per-subscriber copies.
  assert.ok(grown < 10 * size + 16 * 1024 * 1024, `memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB (snapshot ${(size / 2 ** 20).toFixed(1)} MiB)`);

  // the cap: 48 subscribers at most, the next one gets 503
  for (let i = 0; i < 8; i++) socks.push(stalledSubscriber(srv.port));
  while (srv.handler.subscribers < 48) await new Promise((r) => setTimeout(r, 20));
  const extra = await request(`${srv.url}/v1/revocations/stream`, { headersTimeout: 2000 });
  await extra.body.dump();
  assert.equal(extra.statusCode, 503);
  const head = await request(`${srv.url}/v1/revocations/stream`, { method: 'HEAD', headersTimeout: 2000 });
  await head.body.dump();
  assert.equal(head.statusCode, 200);
  assert.equal(srv.handler.subscribers, 48, 'a HEAD request is not a subscriber');
  for (const s of socks.splice(0)) s.destroy();
  while (srv.handler.subscribers > 0) await new Promise((r) => setTimeout(r, 20));
  assert.equal(srv.handler.subscribers, 0, 'a HEAD request is not a subscriber');
});

// ------------------------------------------------------------------ service: /v1/revoke, staleness

/** A root token whose exp was rewritten after signing (signature no longer valid; token id unchanged). */
function withForgedExp(token: Token, exp: number): string {
  const root = token.blocks[0]!;
  const m = decodeStrict(root.payload) as CborMap;
  m.set(7, exp);
  const payload = encode(m);
  const block = new Uint8Array(payload.length + 64);
  block.set(payload);
  block.set(root.signature, payload.length);
  return 'cft1.' + encodeBase64url(encode([token.kid, block]));
}

test('service: /v1/revoke {"token"} needs a token that verifies; a forged one changes nothing; 401 changes nothing', async (t) => {
  const dir = tempDir(t);
  const authority = generateKey();
  const holder = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const secret = 'review-admin-secret-0123456789';
  const cfg = parseServerConfig(
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
  revocation:
    db: ./authority.db
    keyFile: ./authority.key
    maxAge: 10s
`,
    { baseDir: dir, env: { CAPFRAME_ADMIN_SECRET: secret } },
  );
  const running = await startService(cfg);
  t.after(() => running.close());
  // the service's own snapshot is re-signed well within its maxAge (10 s), so it never goes stale
  assert.ok(running.revocation!.handler.publisher.resignAfter <= 5, `resignAfter ${running.revocation!.handler.publisher.resignAfter}s with maxAge 10s`);

  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: holder.publicKey,
    ttl: '7d',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const revoke = async (body: unknown, auth = `Bearer ${secret}`) => {
    const res = await request(`${running.url}/v1/revoke`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', authorization: auth },
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };
  const version = () => running.revocation!.state.version;
  const v0 = version();
  // wrong secret: 401, nothing recorded
  assert.equal((await revoke({ token: token.toString() }, 'Bearer not-the-secret-at-all')).status, 401);
  assert.equal(version(), v0);
  // forged expiry (two days ago): refused, nothing recorded
  const forged = withForgedExp(token, Math.floor(Date.now() / 1000) - 2 * 86400);
  const r = await revoke({ token: forged });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'ERR_SIGNATURE_INVALID');
  assert.equal(version(), v0);
  // the genuine token: revoked, and the service denies it at once
  const ok = await revoke({ token: token.toString() });
  assert.equal(ok.status, 200);
  assert.equal(version(), v0 + 1);
  const proof = createInvocation(token, { key: holder, tool: 't', operation: 'read', resource: 'tickets://acme/1', args: {}, callId: 'big-1' });
  const res = await request(`${running.url}/v1/verify`, {
    method: 'POST',
    body: JSON.stringify({ token: token.toString(), invocation: proof.toString(), tool: 't', operation: 'read', resource: 'tickets://acme/1', args: {} }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(((await res.body.json()) as { code?: string }).code, 'ERR_REVOKED');
});

// ------------------------------------------------------------------ audit log

test('audit verify: lines deleted from the start of a log are reported (not just a warning)', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.jsonl');
  const log = AuditLog.open({ path });
  for (let i = 0; i < 6; i++) log.write({ decision: 'allow', tool: 't', callId: `c${i}`, chainIds: ['00'.repeat(16)] });
  log.close();
  const lines = readFileSync(path, 'utf8').split('\n');
  writeFileSync(path, lines.slice(1).join('\n'));
  let r = verifyAuditLog(path);
  assert.equal(r.ok, false);
  assert.equal(r.problem?.kind, 'deleted');
  assert.equal(r.problem?.line, 1);
  assert.equal(r.problem?.seq, 2);
  writeFileSync(path, lines.slice(3).join('\n'));
  r = verifyAuditLog(path);
  assert.equal(r.problem?.kind, 'deleted');
  assert.equal(r.problem?.seq, 4);
  // --single checks one file on its own: a late start there is only a warning
  r = verifyAuditLog(path, { single: true });
  assert.equal(r.ok, true);
  assert.match(r.warnings.join('\n'), /starts at seq 4/);

  // rotated: the first line of FILE.1 deleted
  const path2 = join(dir, 'rot.jsonl');
  const log2 = AuditLog.open({ path: path2, maxBytes: 4096 });
  for (let i = 0; i < 60; i++) log2.write({ decision: 'deny', code: 'ERR_SCOPE_RESOURCE', tool: 't', callId: `r${i}` });
  log2.close();
  assert.equal(verifyAuditLog(path2).ok, true);
  const first = `${path2}.1`;
  writeFileSync(first, readFileSync(first, 'utf8').split('\n').slice(1).join('\n'));
  r = verifyAuditLog(path2);
  assert.equal(r.problem?.kind, 'deleted');
  assert.equal(r.problem?.file, first);
});

// ------------------------------------------------------------------ CLI

function io(cwd: string): Io & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    env: {},
    cwd,
    stdout: (s: string) => {
      o.out += s;
    },
    stderr: (s: string) => {
      o.err += s;
    },
  };
  return o;
}

test('CLI: group --help works (exit 0); a replaced key file is 0600 whatever the umask', async (t) => {
  const dir = tempDir(t);
  let x = io(dir);
  assert.equal(await main(['keygen', '--out', 'auth.key'], x), 0);
  x = io(dir);
  assert.equal(await main(['revoke', '--db', 'a.db', '--key', 'auth.key', '--id', 'AB'.repeat(16)], x), 0);
  assert.match(x.out, /revoked: block id abab/);

  for (const group of ['revocations', 'audit']) {
    x = io(dir);
    assert.equal(await main([group, '--help'], x), 0, group);
    assert.match(x.out, new RegExp(`Usage: capframe ${group} `));
  }

  writeFileSync(join(dir, 'loose.key'), 'old', { mode: 0o644 });
  const old = process.umask(0);
  try {
    x = io(dir);
    assert.equal(await main(['keygen', '--out', 'loose.key', '--force'], x), 0);
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, 'loose.key')).mode & 0o777, 0o600);
  assert.doesNotMatch(x.out, /privateKey|"seed"/);
  assert.ok(!x.out.includes(JSON.parse(readFileSync(join(dir, 'loose.key'), 'utf8')).privateKey));
});
