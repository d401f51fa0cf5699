// The per-call paths of sessions as they are built for speed (fixed-shape decisions, one digest per call,
// Buffer's base64url decoder): the same decisions, bytes and refusals as the spec asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, issueToken, Verifier, argsDigest } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { argsDigestBuffer } from '../../src/token/args.ts';
import { SessionTable, type SessionCall } from '../../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { decisionToJson } from '../../src/remote/decision-json.ts';

const authority = generateKey();
const holder = generateKey();
const service = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:h',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});

async function open(): Promise<{ table: SessionTable; s: ClientSession }> {
  const table = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(service) });
  const n = table.nonce('h');
  const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  return { table, s: p.finish(o.reply, o.signature) };
}

test('argsDigestBuffer is argsDigest, bytes and hex', () => {
  for (const args of [{}, { id: 1 }, { b: [1, 'x', null, { z: true, a: 1.5 }], a: 'é\u2028' }]) {
    const b = argsDigestBuffer(args);
    assert.deepEqual(new Uint8Array(b), argsDigest(args));
    assert.equal(b.toString('hex'), toHex(argsDigest(args)));
  }
});

test('a session allow and a session denial: frozen, every field of the call, the same JSON members in the same order', async () => {
  const { table, s } = await open();
  const ok = s.seal({ tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/7', args: { id: 7 }, callId: 'h-1' }, 60);
  const d = await table.check(ok.envelope);
  assert.ok(d.allowed);
  assert.ok(Object.isFrozen(d));
  assert.deepEqual(Object.keys(decisionToJson(d)), [
    'allowed',
    'mode',
    'tool',
    'operation',
    'resource',
    'callId',
    'argsDigest',
    'subject',
    'chainIds',
    'grant',
    'expiresAt',
  ]);
  assert.equal(d.argsDigest, toHex(argsDigest({ id: 7 })));
  assert.equal(d.subject, 'agent:h');
  const answer = table.answer(ok.envelope, JSON.stringify(decisionToJson(d)));
  const back = s.open(ok, answer);
  assert.ok(back.allowed && Object.isFrozen(back));
  assert.deepEqual(
    { tool: back.tool, operation: back.operation, resource: back.resource, callId: back.callId, argsDigest: back.argsDigest, mode: back.mode },
    { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/7', callId: 'h-1', argsDigest: d.argsDigest, mode: 'session' },
  );

  const no = s.seal({ tool: 'get_ticket', operation: 'write', resource: 'tickets://acme/7', args: { id: 7 }, callId: 'h-2' }, 60);
  const dn = await table.check(no.envelope);
  assert.ok(!dn.allowed && Object.isFrozen(dn));
  assert.equal(dn.code, 'ERR_SCOPE_PERMISSION');
  assert.deepEqual(Object.keys(decisionToJson(dn)), [
    'allowed',
    'mode',
    'code',
    'reason',
    'tool',
    'operation',
    'resource',
    'callId',
    'argsDigest',
    'subject',
    'chainIds',
  ]);
  // A call refused before its session is known names only what it could read.
  const unknown = await table.check({ ...no.envelope, session: 'A'.repeat(22), counter: 99 } as SessionCall);
  assert.ok(!unknown.allowed && unknown.code === 'ERR_SESSION_UNKNOWN' && Object.isFrozen(unknown));
  assert.deepEqual(Object.keys(decisionToJson(unknown)), ['allowed', 'mode', 'code', 'reason', 'tool', 'operation', 'callId']);
});

test('an answer tag written with standard base64 letters (+ /) or other characters is refused, though Buffer would decode it to the right bytes', async () => {
  const { table, s } = await open();
  let refusedVariants = 0;
  // Enough calls that some answer tag contains '-' or '_' (each of its 43 characters does with probability 1/32).
  for (let i = 0; i < 40; i++) {
    const sealed = s.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `b-${i}` }, 60);
    const a = table.answer(sealed.envelope, JSON.stringify(decisionToJson(await table.check(sealed.envelope))));
    assert.ok(s.open(sealed, a).allowed);
    const variant = a.tag!.replace(/-/g, '+').replace(/_/g, '/');
    if (variant !== a.tag) {
      assert.deepEqual(Buffer.from(variant, 'base64url'), Buffer.from(a.tag!, 'base64url'));
      const d = s.open(sealed, { ...a, tag: variant });
      assert.ok(!d.allowed && d.code === 'ERR_SESSION_ANSWER');
      refusedVariants++;
    }
    for (const bad of [a.tag!.slice(0, 42) + '=', a.tag!.slice(0, 42) + ' ', a.tag!.slice(1) + '.']) {
      const d = s.open(sealed, { ...a, tag: bad });
      assert.ok(!d.allowed && d.code === 'ERR_SESSION_ANSWER', bad);
    }
  }
  assert.ok(refusedVariants > 0);
});

test('seal still refuses bad text fields with a typed error, and a refused seal leaves later calls usable', async () => {
  const { table, s } = await open();
  for (const bad of [
    { tool: '', operation: 'read', callId: 'x' },
    { tool: 'get_ticket', operation: 'r\u0000', callId: 'x' },
    { tool: 'get_ticket', operation: 'read', callId: 'c'.repeat(257) },
  ]) {
    assert.throws(() => s.seal({ ...bad, resource: 'tickets://acme/1', args: {} }, 60), { code: 'ERR_MALFORMED' });
  }
  const ok = s.seal({ tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: 1 }, callId: 'after' }, 60);
  assert.ok((await table.check(ok.envelope)).allowed);
});

test('the answer tag, with the decision text fed to the MAC apart, is HMAC over sessionAnswerMessage (non-ASCII, astral and lone-surrogate text too)', async () => {
  const { createHmac, randomBytes } = await import('node:crypto');
  const { sessionAnswerMessage, sessionAnswerTag } = await import('../../src/token/session.ts');
  const key = randomBytes(32);
  const id = randomBytes(16);
  const callTag = randomBytes(32);
  for (const text of ['', '{"allowed":true}', 'é€ 𝄞 ticket', 'lone \uD800 high', 'lone \uDC00 low', 'x'.repeat(5000)]) {
    const want = createHmac('sha256', key)
      .update(sessionAnswerMessage(id, 7, callTag, text))
      .digest();
    assert.deepEqual(sessionAnswerTag(key, id, 7, callTag, text), want, JSON.stringify(text.slice(0, 20)));
  }
  assert.throws(() => sessionAnswerTag(key, id, 0, callTag, '{}'), /counter/);
});
