/**
 * Session vectors (docs/spec.md §13): test/vectors/sessions.json. Every
 * input is fixed (seeds and ephemeral X25519 keys are SHA-256 of fixed
 * strings, the clock is T0, Ed25519 is deterministic), so the file is
 * reproducible; test/vectors/sessions.test.ts re-derives every value.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../../src/crypto/node.ts';
import { importSeed } from '../../src/crypto/keys.ts';
import { sha256, toHex } from '../../src/crypto/hash.ts';
import { x25519Pair } from '../../src/crypto/session-keys.ts';
import { issueToken } from '../../src/authority/issue.ts';
import { argsDigest } from '../../src/token/args.ts';
import { createSessionHello } from '../../src/holder/session-hello.ts';
import {
  deriveSessionKeys,
  encodeSessionReply,
  replySignedMessage,
  sessionAnswerMessage,
  sessionAnswerTag,
  sessionCallMessage,
  sessionCallTag,
} from '../../src/token/session.ts';

const T0 = 1767225600;
const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const hex = toHex;

export function generateSessionVectors(): string {
  const backend = nodeBackend();
  const authority = importSeed(sha('capframe-v1 session vector key: authority'));
  const holder = importSeed(sha('capframe-v1 session vector key: holder'));
  const service = importSeed(sha('capframe-v1 session vector key: service'));
  const clientEph = sha('capframe-v1 session vector x25519: client');
  const serviceEph = sha('capframe-v1 session vector x25519: service');
  const nonce = sha('capframe-v1 session vector nonce').slice(0, 16);
  const sessionId = sha('capframe-v1 session vector session id').slice(0, 16);
  const clock = () => T0;
  const token = issueToken({
    key: authority,
    subject: 'agent:support',
    holder: holder.publicKey,
    ttl: 3600,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    tokenId: sha('capframe-v1 session vector token id').slice(0, 16),
    clock,
  });
  const h = createSessionHello(token, holder, { serviceKey: service.publicKey, nonce, ttl: 600, clock, backend, ephemeral: clientEph });
  const sEph = x25519Pair(serviceEph);
  const reply = encodeSessionReply({ helloDigest: sha256(h.hello), serviceKey: sEph.publicKey, session: sessionId, exp: h.fields.exp });
  const replySignature = backend.sign(service.seed, replySignedMessage(reply));
  const keys = deriveSessionKeys(h.ephemeral.privateKey, sEph.publicKey, h.hello, reply);
  const calls = [
    { counter: 1, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: '42' }, callId: 'call-1', exp: T0 + 30 },
    {
      counter: 2,
      tool: 'get_ticket',
      operation: 'read',
      resource: 'tickets://acme/ünï',
      args: { id: 'ünï', n: [1, 2.5, null] },
      callId: 'call-2',
      exp: T0 + 300,
    },
    { counter: 9007199254740991, tool: 't', operation: 'o', resource: 'tickets://acme/x', args: {}, callId: 'c', exp: 4294967295 },
  ].map((c) => {
    const f = { ...c, argsDigest: argsDigest(c.args) };
    const message = sessionCallMessage(sessionId, f);
    const tag = sessionCallTag(keys.callKey, sessionId, f);
    const decision = JSON.stringify({ allowed: false, mode: 'session', code: 'ERR_SCOPE_RESOURCE', reason: 'example' });
    return {
      call: { ...c, argsDigest: hex(f.argsDigest) },
      message: hex(message),
      tag: hex(tag),
      answer: {
        decision,
        message: hex(sessionAnswerMessage(sessionId, c.counter, tag, decision)),
        tag: hex(sessionAnswerTag(keys.answerKey, sessionId, c.counter, tag, decision)),
      },
    };
  });
  const doc = {
    description: 'capframe sessions (docs/spec.md §13): handshake, key schedule, call and answer tags',
    t0: T0,
    derivation:
      'seeds: SHA-256("capframe-v1 session vector key: NAME"); X25519 private keys: SHA-256("capframe-v1 session vector x25519: client|service"); nonce, session id, token id: first 16 bytes of SHA-256 of their fixed strings',
    keys: {
      authority: { seed: hex(authority.seed), publicKey: hex(authority.publicKey) },
      holder: { seed: hex(holder.seed), publicKey: hex(holder.publicKey) },
      service: { seed: hex(service.seed), publicKey: hex(service.publicKey) },
      clientEphemeral: { private: hex(clientEph), public: hex(h.ephemeral.publicKey) },
      serviceEphemeral: { private: hex(serviceEph), public: hex(sEph.publicKey) },
    },
    token: { text: token.toString(), tip: hex(token.tip()) },
    nonce: hex(nonce),
    hello: {
      fields: {
        tip: hex(h.fields.tip),
        clientKey: hex(h.fields.clientKey),
        serviceKey: hex(h.fields.serviceKey),
        nonce: hex(h.fields.nonce),
        iat: h.fields.iat,
        exp: h.fields.exp,
      },
      bytes: hex(h.hello),
      signature: hex(h.signature),
    },
    reply: {
      fields: { helloDigest: hex(sha256(h.hello)), serviceKey: hex(sEph.publicKey), session: hex(sessionId), exp: h.fields.exp },
      bytes: hex(reply),
      signature: hex(replySignature),
    },
    keySchedule: {
      salt: hex(sha256(new TextEncoder().encode('capframe-v1-session-transcript\u0000'), h.hello, reply)),
      callKey: hex(keys.callKey),
      answerKey: hex(keys.answerKey),
    },
    calls,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export const SESSION_VECTORS_PATH = fileURLToPath(new URL('../../test/vectors/sessions.json', import.meta.url));

export function writeSessionVectors(): void {
  writeFileSync(SESSION_VECTORS_PATH, generateSessionVectors());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeSessionVectors();
  console.log(`wrote ${SESSION_VECTORS_PATH}`);
}
