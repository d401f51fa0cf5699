// Session vectors (docs/spec.md §13): the file regenerates byte for byte, and every value is re-derived here with
// node:crypto directly and a byte layout written out again from the spec text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, createHash, verify } from 'node:crypto';
import { generateSessionVectors, SESSION_VECTORS_PATH } from '../../scripts/vectors/sessions.ts';
import { decodeSessionHello, decodeSessionReply } from '../../src/token/session.ts';
import { Token } from '../../src/token/token.ts';
import { argsDigest } from '../../src/token/args.ts';

const text = readFileSync(SESSION_VECTORS_PATH, 'utf8');
const v = JSON.parse(text);
const h = (s: string) => Buffer.from(s, 'hex');
const b64u = (b: Buffer) => b.toString('base64url');
const label = (s: string) => Buffer.from(s + '\u0000', 'utf8');
const sha = (...p: Buffer[]) => createHash('sha256').update(Buffer.concat(p)).digest();
const edPub = (raw: Buffer) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(raw) }, format: 'jwk' });
const xPriv = (raw: Buffer) => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(raw), x: '' }, format: 'jwk' });
const xPubOf = (raw: Buffer) => Buffer.from(createPublicKey(xPriv(raw)).export({ format: 'jwk' }).x!, 'base64url');
const xPub = (raw: Buffer) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' });
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const lp = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length);
  return Buffer.concat([l, b]);
};

test('the session vectors regenerate byte for byte', () => {
  assert.equal(generateSessionVectors(), text);
});

test('handshake: fields, both signatures, ephemeral keys', () => {
  const hello = h(v.hello.bytes);
  const f = decodeSessionHello(hello);
  assert.equal(Buffer.from(f.tip).toString('hex'), v.hello.fields.tip);
  assert.equal(Buffer.from(f.tip).toString('hex'), Buffer.from(Token.parse(v.token.text).tip()).toString('hex'));
  assert.equal(Buffer.from(f.clientKey).toString('hex'), v.keys.clientEphemeral.public);
  assert.equal(Buffer.from(f.serviceKey).toString('hex'), v.keys.service.publicKey);
  assert.equal(Buffer.from(f.nonce).toString('hex'), v.nonce);
  assert.deepEqual([f.iat, f.exp], [v.t0, v.t0 + 600]);
  assert.ok(verify(null, Buffer.concat([label('capframe-v1-session-hello'), hello]), edPub(h(v.keys.holder.publicKey)), h(v.hello.signature)));
  const bad = Buffer.from(hello);
  bad[bad.length - 1]! ^= 1;
  assert.equal(verify(null, Buffer.concat([label('capframe-v1-session-hello'), bad]), edPub(h(v.keys.holder.publicKey)), h(v.hello.signature)), false);
  const reply = h(v.reply.bytes);
  const r = decodeSessionReply(reply);
  assert.equal(Buffer.from(r.helloDigest).toString('hex'), sha(hello).toString('hex'));
  assert.equal(Buffer.from(r.serviceKey).toString('hex'), v.keys.serviceEphemeral.public);
  assert.equal(Buffer.from(r.session).toString('hex'), v.reply.fields.session);
  assert.equal(r.exp, f.exp);
  assert.ok(verify(null, Buffer.concat([label('capframe-v1-session-reply'), reply]), edPub(h(v.keys.service.publicKey)), h(v.reply.signature)));
  assert.equal(xPubOf(h(v.keys.clientEphemeral.private)).toString('hex'), v.keys.clientEphemeral.public);
  assert.equal(xPubOf(h(v.keys.serviceEphemeral.private)).toString('hex'), v.keys.serviceEphemeral.public);
});

test('key schedule: X25519 both ways, salt over the transcript, HKDF-SHA-256 split into call and answer keys', () => {
  const s1 = diffieHellman({ privateKey: xPriv(h(v.keys.clientEphemeral.private)), publicKey: xPub(h(v.keys.serviceEphemeral.public)) });
  const s2 = diffieHellman({ privateKey: xPriv(h(v.keys.serviceEphemeral.private)), publicKey: xPub(h(v.keys.clientEphemeral.public)) });
  assert.deepEqual(s1, s2);
  const salt = sha(label('capframe-v1-session-transcript'), h(v.hello.bytes), h(v.reply.bytes));
  assert.equal(salt.toString('hex'), v.keySchedule.salt);
  const okm = Buffer.from(hkdfSync('sha256', s1, salt, Buffer.from('capframe-v1-session-keys'), 64));
  assert.equal(okm.subarray(0, 32).toString('hex'), v.keySchedule.callKey);
  assert.equal(okm.subarray(32).toString('hex'), v.keySchedule.answerKey);
});

test('call and answer tags: the byte layouts of §13.5 and §13.6', () => {
  const sid = h(v.reply.fields.session);
  for (const c of v.calls) {
    assert.equal(Buffer.from(argsDigest(c.call.args)).toString('hex'), c.call.argsDigest);
    const msg = Buffer.concat([
      label('capframe-v1-session-call'),
      sid,
      u64(c.call.counter),
      u64(c.call.exp),
      h(c.call.argsDigest),
      lp(c.call.tool),
      lp(c.call.operation),
      lp(c.call.resource),
      lp(c.call.callId),
    ]);
    assert.equal(msg.toString('hex'), c.message);
    const tag = createHmac('sha256', h(v.keySchedule.callKey)).update(msg).digest();
    assert.equal(tag.toString('hex'), c.tag);
    const am = Buffer.concat([label('capframe-v1-session-answer'), sid, u64(c.call.counter), tag, Buffer.from(c.answer.decision, 'utf8')]);
    assert.equal(am.toString('hex'), c.answer.message);
    assert.equal(createHmac('sha256', h(v.keySchedule.answerKey)).update(am).digest().toString('hex'), c.answer.tag);
  }
});
