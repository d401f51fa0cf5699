// Sessions (docs/spec.md §13) over real HTTP on 127.0.0.1: calls, hostile calls, forged answers, caps, revocation, restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { RevokedError } from '../../src/errors.ts';
import { generateKey, issueToken, Verifier, type Token } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { formatPublicKey } from '../../src/crypto/keys.ts';
import { createVerifyService, type VerifyService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { decodeBase64url } from '../../src/encoding/base64url.ts';
import type { Chain } from '../../src/token/chain.ts';
import { postJson, sessionCall } from './fixture.ts';

const authority = generateKey();
const holder = generateKey();
const serviceKey = generateKey();
const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
const token = issueToken({ key: authority, subject: 'agent:support', holder: holder.publicKey, ttl: '1h', grants });
const revokedIds = new Set<string>();
const revocation = {
  check(chain: Chain) {
    if (chain.ids.some((id) => revokedIds.has(id))) throw new RevokedError('token revoked');
  },
};
const verifier = new Verifier({ trusted: [authority.publicKey], revocation });
const events: Record<string, unknown>[] = [];

let service: VerifyService;
let url: string;
let port: number;

function start(p = 0, extra: Record<string, unknown> = {}): Promise<{ url: string; port: number }> {
  service = createVerifyService({ verifier, audit: (e) => void events.push(e), sessions: { signer: keySigner(serviceKey), maxAhead: 8, ...extra } });
  return service.listen(p);
}

before(async () => {
  ({ url, port } = await start());
});
after(async () => {
  await service.close();
});

const call = sessionCall;

const post = (path: string, body: unknown, base = url) => postJson(base, path, body);

/** A session opened by hand over the HTTP binding (what RemoteVerifier does inside). */
async function openSession(t: Token = token, base = url): Promise<ClientSession> {
  const n = await post('/v1/session/nonce', {}, base);
  assert.equal(n.status, 200);
  const p = beginSession(t, holder, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n.json.nonce), ttl: 600 });
  const o = await post('/v1/session/open', p.request, base);
  assert.equal(o.status, 200, JSON.stringify(o.json));
  return p.finish(decodeBase64url(o.json.reply), decodeBase64url(o.json.signature));
}

test('RemoteVerifier with a pinned service key: one handshake, then HMAC-tagged calls; allow and deny with their codes; audit says mode session', async () => {
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: formatPublicKey(serviceKey.publicKey) });
  try {
    const ds = await Promise.all([1, 2, 3].map((i) => rv.verifyCall(token, call(i))));
    assert.deepEqual(
      ds.map((d) => [d.allowed, d.mode]),
      [
        [true, 'session'],
        [true, 'session'],
        [true, 'session'],
      ],
    );
    const out = await rv.verifyCall(token, call(4, 'mail://acme/x'));
    assert.equal(out.allowed, false);
    assert.equal(!out.allowed && out.code, 'ERR_SCOPE_RESOURCE');
    const op = await rv.verifyCall(token, { ...call(5), operation: 'delete' });
    assert.equal(!op.allowed && op.code, 'ERR_SCOPE_PERMISSION');
    assert.equal(rv.sessionStats.handshakes, 1);
    const last = events.at(-1)!;
    assert.equal(last.mode, 'session');
    assert.equal(last.code, 'ERR_SCOPE_PERMISSION');
  } finally {
    await rv.close();
  }
});

test('hostile calls: forged tag, replayed counter, counter behind the window or far ahead, unknown session, malformed: typed denials', async () => {
  const s = await openSession();
  const a = s.seal(call(10));
  const send = async (calls: unknown[]) => (await post('/v1/session/calls', { calls })).json.answers as { counter: number; decision: string; tag?: string }[];
  const [ok] = await send([a.envelope]);
  assert.equal(s.open(a, ok!).allowed, true);
  // The same envelope again: the counter was used.
  const [again] = await send([a.envelope]);
  const d1 = s.open(a, again!);
  assert.equal(!d1.allowed && d1.code, 'ERR_REPLAY');
  // Forged tag, altered argument, altered resource: the tag does not verify (and the answer is untagged).
  const b = s.seal(call(11));
  const forged = { ...b.envelope, tag: b.envelope.tag.slice(0, -2) + (b.envelope.tag.endsWith('AA') ? 'AB' : 'AA') };
  const altered = { ...b.envelope, args: { id: 12 } };
  const [f1, f2] = await send([forged, altered]);
  for (const f of [f1!, f2!]) {
    assert.equal(f.tag, undefined);
    assert.equal(JSON.parse(f.decision).code, 'ERR_SESSION_TAG');
  }
  // The real call still goes through after the forgeries (they moved no counter).
  const [real] = await send([b.envelope]);
  assert.equal(s.open(b, real!).allowed, true);
  // Far ahead: this table accepts jumps of at most 8.
  const sealed = Array.from({ length: 12 }, (_, i) => s.seal(call(100 + i)));
  const [ahead] = await send([sealed[11]!.envelope]);
  assert.equal(JSON.parse(ahead!.decision).code, 'ERR_SESSION_COUNTER');
  // Reordered within the window: fine.
  const answers = await send([sealed[5]!.envelope, sealed[3]!.envelope, sealed[4]!.envelope]);
  assert.deepEqual(
    answers.map((x, k) => s.open(sealed[[5, 3, 4][k]!]!, x).allowed),
    [true, true, true],
  );
  // Unknown session id, and a malformed call.
  const [unknown, bad] = await send([{ ...a.envelope, session: 'A'.repeat(22) }, { session: 1 }]);
  assert.equal(JSON.parse(unknown!.decision).code, 'ERR_SESSION_UNKNOWN');
  assert.equal(JSON.parse(bad!.decision).code, 'ERR_MALFORMED');
  for (const body of ['{}', '{"calls":[]}', '[1]', 'null', '{"calls":{}}']) {
    const res = await request(url + '/v1/session/calls', { method: 'POST', body });
    assert.equal(res.statusCode, 400);
    await res.body.dump();
  }
});

test('handshake: bad holder signature, wrong token, another service key, reused nonce, too long a session: refused with typed codes', async () => {
  const n = await post('/v1/session/nonce', {});
  const nonce = decodeBase64url(n.json.nonce);
  const other = issueToken({ key: authority, subject: 'agent:x', holder: holder.publicKey, ttl: '1h', grants });
  const p = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce, ttl: 600 });
  const sig = decodeBase64url(p.request.signature);
  sig[0]! ^= 1;
  const badSig = await post('/v1/session/open', { ...p.request, signature: Buffer.from(sig).toString('base64url') });
  assert.equal(badSig.json.code, 'ERR_SIGNATURE_INVALID');
  // The nonce was used up by that attempt.
  const reuse = await post('/v1/session/open', p.request);
  assert.equal(reuse.json.code, 'ERR_REPLAY');
  const n2 = await post('/v1/session/nonce', {});
  const p2 = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n2.json.nonce), ttl: 600 });
  const wrongToken = await post('/v1/session/open', { ...p2.request, token: other.toString() });
  assert.equal(wrongToken.json.code, 'ERR_INVOCATION_MISMATCH');
  const n3 = await post('/v1/session/nonce', {});
  const p3 = beginSession(token, holder, { serviceKey: generateKey().publicKey, nonce: decodeBase64url(n3.json.nonce), ttl: 600 });
  assert.equal((await post('/v1/session/open', p3.request)).json.code, 'ERR_INVOCATION_MISMATCH');
  const n4 = await post('/v1/session/nonce', {});
  const long = issueToken({ key: authority, subject: 'agent:long', holder: holder.publicKey, ttl: '3h', grants });
  const p4 = beginSession(long, holder, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n4.json.nonce), ttl: 7200 });
  assert.equal((await post('/v1/session/open', p4.request)).json.code, 'ERR_INVALID_ARGUMENT');
  for (const body of ['{}', '{"token":"x","hello":"!","signature":"A"}', 'nope']) {
    const res = await request(url + '/v1/session/open', { method: 'POST', body });
    assert.equal(res.statusCode, 400);
    await res.body.dump();
  }
});

/** A proxy between client and service that may rewrite session answers. */
async function proxy(target: string, rewrite: (answers: any[], calls: any[]) => any[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward());
    const forward = async () => {
      const body = Buffer.concat(chunks).toString();
      const r = await request(target + req.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      let text = await r.body.text();
      if (req.url === '/v1/session/calls' && r.statusCode === 200) {
        text = JSON.stringify({ answers: rewrite(JSON.parse(text).answers, JSON.parse(body).calls) });
      }
      res.writeHead(r.statusCode, { 'content-type': 'application/json' });
      res.end(text);
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('answers are authenticated: a forged allow, an untagged allow, a replayed answer, a swapped answer are denials (ERR_SESSION_ANSWER), never allows', async () => {
  let mode = 'none';
  let kept: any;
  const p = await proxy(url, (answers) => {
    if (mode === 'keep') kept = answers[0];
    if (mode === 'forge') return answers.map((a) => ({ ...a, decision: a.decision.replace('"allowed":false', '"allowed":true') }));
    if (mode === 'untag') return answers.map(({ tag: _t, ...a }) => a);
    if (mode === 'replay') return [{ ...kept }];
    if (mode === 'swap') return [...answers].reverse();
    return answers;
  });
  const rv = new RemoteVerifier({ url: p.url, holderKey: holder, serviceKey: serviceKey.publicKey, maxRequests: 1 });
  try {
    mode = 'keep';
    assert.equal((await rv.verifyCall(token, call(200))).allowed, true);
    mode = 'forge';
    const forged = await rv.verifyCall(token, call(201, 'mail://acme/1'));
    assert.equal(!forged.allowed && forged.code, 'ERR_SESSION_ANSWER');
    mode = 'untag';
    const untagged = await rv.verifyCall(token, call(202));
    assert.equal(!untagged.allowed && untagged.code, 'ERR_SESSION_ANSWER');
    mode = 'replay';
    const replayed = await rv.verifyCall(token, call(203));
    assert.equal(!replayed.allowed && replayed.code, 'ERR_SESSION_ANSWER');
    mode = 'swap';
    // Two calls in one request, answers swapped.
    const [x, y] = await Promise.all([rv.verifyCall(token, call(204)), rv.verifyCall(token, call(205))]);
    assert.equal(x.allowed || y.allowed, false);
    assert.ok(rv.sessionStats.refusedAnswers >= 4);
  } finally {
    await rv.close();
    p.server.close();
  }
  // A client pinning another key refuses the handshake.
  const wrong = new RemoteVerifier({ url, holderKey: holder, serviceKey: generateKey().publicKey });
  const d = await wrong.verifyCall(token, call(206));
  assert.equal(!d.allowed && d.code, 'ERR_SESSION_ANSWER');
  await wrong.close();
});

test('the signed path refuses plain http:// to a non-loopback host', () => {
  assert.throws(() => new RemoteVerifier({ url: 'http://10.0.0.1:8787' }), /ERR_CONFIG|https/);
  assert.throws(() => new RemoteVerifier({ url: 'http://verify.example' }), /https/);
  for (const u of ['https://verify.example', 'http://[::1]:1', 'http://localhost:1']) void new RemoteVerifier({ url: u }).close();
});

test('caps: handshakes rate-limited per client; sessions capped per holder (oldest ends) and in total; memory reported', async () => {
  await service.close();
  ({ url } = await start(port, { handshakesPerSecond: 2, maxPerHolder: 2, maxSessions: 3 }));
  try {
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await post('/v1/session/nonce', {})).status);
    assert.ok(codes.filter((c) => c === 429).length >= 3, String(codes));
    const limited = await post('/v1/session/nonce', {});
    assert.equal(limited.json.code, 'ERR_SESSION_LIMIT');
  } finally {
    await service.close();
  }
  ({ url } = await start(port, { maxPerHolder: 2, maxSessions: 3 }));
  const s1 = await openSession();
  await openSession();
  await openSession();
  // The holder's oldest session ended when its third opened.
  const first = s1.seal(call(300));
  const [a] = (await post('/v1/session/calls', { calls: [first.envelope] })).json.answers;
  assert.equal(JSON.parse(a.decision).code, 'ERR_SESSION_UNKNOWN');
  const holder2 = generateKey();
  const t2 = issueToken({ key: authority, subject: 'agent:2', holder: holder2.publicKey, ttl: '1h', grants });
  const n = await post('/v1/session/nonce', {});
  const p = beginSession(t2, holder2, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n.json.nonce), ttl: 600 });
  await post('/v1/session/open', p.request);
  const n2 = await post('/v1/session/nonce', {});
  const p2 = beginSession(t2, holder2, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n2.json.nonce), ttl: 600 });
  const full = await post('/v1/session/open', p2.request);
  assert.equal(full.status, 429);
  assert.equal(full.json.code, 'ERR_SESSION_LIMIT');
  const st = service.sessions!.stats();
  assert.equal(st.sessions, 3);
  assert.ok(st.bytesPerSession > 0 && st.bytes >= 3 * st.bytesPerSession);
  const metrics = await (await request(url + '/metrics')).body.text();
  assert.match(metrics, /capframe_sessions 3/);
  assert.match(metrics, /capframe_session_events_total\{event="evicted"\} 1/);
  await service.close();
  ({ url } = await start(port));
});

test('revocation ends the session at once; a service restart is invisible but for one counted retry', async () => {
  const t = issueToken({ key: authority, subject: 'agent:rev', holder: holder.publicKey, ttl: '1h', grants });
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: serviceKey.publicKey });
  try {
    assert.equal((await rv.verifyCall(t, call(400))).allowed, true);
    await service.close();
    ({ url } = await start(port));
    const after = await rv.verifyCall(t, call(401));
    assert.equal(after.allowed, true);
    assert.equal(rv.sessionStats.retries, 1);
    assert.equal(rv.sessionStats.handshakes, 2);
    // The service saw the one call that named the lost session (capframe_session_events_total{event="unknown"}).
    assert.equal(service.sessions!.counts.unknown, 1);
    const before = service.sessions!.stats().sessions;
    revokedIds.add(verifier.verifyToken(t).ids[0]!);
    const d = await rv.verifyCall(t, call(402));
    assert.equal(!d.allowed && d.code, 'ERR_REVOKED');
    assert.equal(service.sessions!.stats().sessions, before - 1);
    // A new handshake for the revoked token is refused too.
    const d2 = await rv.verifyCall(t, call(403));
    assert.equal(!d2.allowed && d2.code, 'ERR_REVOKED');
  } finally {
    await rv.close();
  }
});
