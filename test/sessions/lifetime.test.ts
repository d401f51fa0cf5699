// Session lifetime and counters on the real SessionTable (docs/spec.md §13.2 step 6, §13.5 step 5, §13.8):
// a hello past the token's expiry, a session that reaches its end, a counter behind the window, the handshake
// rate limit per client, and the count of calls naming no live session (what makes clients retry once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, issueToken, Verifier, type LocalCall, type Token } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { x25519Pair } from '../../src/crypto/session-keys.ts';
import { defaultBackend } from '../../src/crypto/default.ts';
import { SessionTable } from '../../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { encodeSessionHello, helloSignedMessage } from '../../src/token/session.ts';
import { tokenExpiry } from '../../src/holder/session-hello.ts';
import { createVerifyService } from '../../src/server/index.ts';
import { request } from 'undici';

const authority = generateKey();
const holder = generateKey();
const service = generateKey();
const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];

let now = 1_900_000_000;
const clock = () => now;

function table(extra: Record<string, unknown> = {}): SessionTable {
  const verifier = new Verifier({ trusted: [authority.publicKey], clock, clockSkew: 0 });
  return new SessionTable({ verifier, signer: keySigner(service), ...extra });
}

function tokenFor(ttl: string): Token {
  return issueToken({ key: authority, subject: 'agent:life', holder: holder.publicKey, ttl, grants, clock });
}

async function open(t: SessionTable, token: Token, ttl = 600): Promise<ClientSession> {
  const n = t.nonce('client-a');
  const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n.nonce, ttl, clock });
  const o = await t.open(p.raw);
  return p.finish(o.reply, o.signature);
}

const call = (i: number): LocalCall => ({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `c-${i}` });

async function code(t: SessionTable, s: ClientSession, i: number): Promise<string> {
  const d = await t.check(s.seal(call(i)).envelope);
  return d.allowed ? 'OK' : d.code;
}

test('a hello signed by the holder that asks to outlive the token is refused (ERR_INVALID_ARGUMENT)', async () => {
  const t = table({ maxTtl: 3600 });
  const token = tokenFor('2m');
  const n = t.nonce('client-a');
  // Made by hand: createSessionHello would cap exp at the token's expiry.
  const hello = encodeSessionHello({
    tip: token.tip(),
    clientKey: x25519Pair().publicKey,
    serviceKey: service.publicKey,
    nonce: n.nonce,
    iat: now,
    exp: tokenExpiry(token) + 60,
  });
  const signature = defaultBackend().sign(holder.seed, helloSignedMessage(hello));
  await assert.rejects(t.open({ token: token.toString(), hello, signature }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.equal(t.stats().sessions, 0);
  // The client's own hello is capped at the token's expiry and accepted.
  const s = await open(t, token, 3600);
  assert.equal(s.exp, tokenExpiry(token));
});

test('a session ends at its expiry: the next call is ERR_SESSION_UNKNOWN and counted; a new session works', async () => {
  const t = table();
  const token = tokenFor('1h');
  const s = await open(t, token, 120);
  assert.equal(await code(t, s, 1), 'OK');
  now += 121;
  try {
    assert.equal(await code(t, s, 2), 'ERR_SESSION_UNKNOWN');
    assert.equal(t.counts.expired, 1);
    assert.equal(t.stats().sessions, 0);
    // Gone for good: the same session id is now unknown.
    assert.equal(await code(t, s, 3), 'ERR_SESSION_UNKNOWN');
    assert.equal(t.counts.unknown, 1);
    const s2 = await open(t, token, 120);
    assert.equal(await code(t, s2, 4), 'OK');
  } finally {
    now -= 121;
  }
});

test('a counter behind the reorder window is ERR_REPLAY; inside it, once only', async () => {
  const t = table({ window: 32 });
  const s = await open(t, tokenFor('1h'));
  const sealed = Array.from({ length: 40 }, (_, i) => s.seal(call(i)));
  assert.equal((await t.check(sealed[39]!.envelope)).allowed, true);
  const behind = await t.check(sealed[0]!.envelope); // counter 1 <= 40 - 32
  assert.equal(!behind.allowed && behind.code, 'ERR_REPLAY');
  assert.equal((await t.check(sealed[20]!.envelope)).allowed, true); // counter 21: inside the window, not seen
  const twice = await t.check(sealed[20]!.envelope);
  assert.equal(!twice.allowed && twice.code, 'ERR_REPLAY');
});

test('the handshake rate limit is per client: one client refused, another served', () => {
  const t = table({ handshakesPerSecond: 2 });
  let refused = 0;
  for (let i = 0; i < 10; i++) {
    try {
      t.nonce('client-a');
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'ERR_SESSION_LIMIT');
      refused++;
    }
  }
  assert.ok(refused >= 5, `refused ${refused}`);
  assert.equal(t.nonce('client-b').nonce.length, 16);
  assert.ok(t.counts.refused >= 5);
});

test('the service reports calls naming no live session and the bytes sessions hold', async () => {
  const svc = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey] }), audit: () => {}, sessions: { signer: keySigner(service) } });
  const { url } = await svc.listen(0);
  try {
    const body = JSON.stringify({
      calls: [
        {
          session: 'A'.repeat(22),
          counter: 1,
          tool: 'get_ticket',
          operation: 'read',
          resource: 'tickets://acme/1',
          args: {},
          callId: 'x',
          exp: 2_000_000_000,
          tag: 'A'.repeat(43),
        },
      ],
    });
    const res = await request(url + '/v1/session/calls', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answers = ((await res.body.json()) as { answers: { decision: string; tag?: string }[] }).answers;
    assert.equal(JSON.parse(answers[0]!.decision).code, 'ERR_SESSION_UNKNOWN');
    assert.equal(answers[0]!.tag, undefined);
    const metrics = await (await request(url + '/metrics')).body.text();
    assert.match(metrics, /capframe_session_events_total\{event="unknown"\} 1/);
    assert.match(metrics, /capframe_session_bytes 0/);
    // One session: the fixed part, the window and the token text.
    const n = await (await request(url + '/v1/session/nonce', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).body.json();
    const token = issueToken({ key: authority, subject: 'agent:life', holder: holder.publicKey, ttl: '1h', grants });
    const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: Buffer.from((n as { nonce: string }).nonce, 'base64url'), ttl: 600 });
    const o = await request(url + '/v1/session/open', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(p.request) });
    assert.equal(o.statusCode, 200);
    await o.body.dump();
    const st = svc.sessions!.stats();
    assert.equal(st.sessions, 1);
    assert.equal(st.bytesPerSession, 2000 + 1024 / 8 + token.toString().length);
    assert.match(await (await request(url + '/metrics')).body.text(), new RegExp(`capframe_session_bytes ${st.bytes}\\b`));
  } finally {
    await svc.close();
  }
});
