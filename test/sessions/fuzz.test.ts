// Hostile bytes and objects at every session decoder and checker: typed errors or denials, never a crash, never an allow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CapframeError } from '../../src/errors.ts';
import { generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { decodeSessionHello, decodeSessionReply } from '../../src/token/session.ts';
import { SessionTable, type SessionCall } from '../../src/verify/session-table.ts';
import { beginSession } from '../../src/remote/session-client.ts';

// A deterministic PRNG, so that a failure reproduces.
let seed = 0x2545f491;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

function mutate(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  const k = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < k; i++) {
    const op = rnd();
    if (op < 0.6 && out.length) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
    else if (op < 0.8) return out.subarray(0, Math.floor(rnd() * out.length));
    else return Uint8Array.from([...out, ...randomBytes(1 + Math.floor(rnd() * 8))]);
  }
  return out;
}

const authority = generateKey();
const holder = generateKey();
const service = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:f',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});

test('hello and reply decoders: mutated and random bytes give ERR_MALFORMED or decode, never anything else', async () => {
  const table = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(service), handshakesPerSecond: 100_000 });
  const n = table.nonce('f');
  const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  for (let i = 0; i < 3000; i++) {
    for (const [bytes, decode] of [
      [p.raw.hello, decodeSessionHello],
      [o.reply, decodeSessionReply],
    ] as const) {
      const m = i % 10 === 0 ? new Uint8Array(randomBytes(Math.floor(rnd() * 120))) : mutate(bytes);
      try {
        decode(m);
      } catch (e) {
        assert.ok(e instanceof CapframeError && e.code === 'ERR_MALFORMED', String(e));
      }
    }
    // A mutated reply never finishes into a session.
    const bad = mutate(o.reply);
    if (!Buffer.from(bad).equals(Buffer.from(o.reply))) assert.throws(() => p.finish(bad, o.signature), { code: 'ERR_SESSION_ANSWER' });
  }
  // Mutated hellos at open(): typed refusals only.
  for (let i = 0; i < 200; i++) {
    const nn = table.nonce('f');
    const q = beginSession(token, holder, { serviceKey: service.publicKey, nonce: nn.nonce, ttl: 600 });
    const hello = mutate(q.raw.hello);
    if (Buffer.from(hello).equals(Buffer.from(q.raw.hello))) continue;
    await assert.rejects(table.open({ ...q.raw, hello }), (e: unknown) => e instanceof CapframeError && e.code !== 'ERR_INTERNAL');
  }
});

test('check() and open(): junk calls are typed denials, junk answers never allow', async () => {
  const table = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(service) });
  const n = table.nonce('f');
  const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  const s = p.finish(o.reply, o.signature);
  const junk: unknown[] = [
    null,
    1,
    'x',
    [],
    {},
    { session: s.idText },
    { __proto__: { session: s.idText } },
    -1,
    2 ** 60,
    NaN,
    'A'.repeat(43),
    {},
    [],
    '\u0000',
  ];
  for (let i = 0; i < 3000; i++) {
    const good = s.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `f-${i}` });
    const c: Record<string, unknown> = { ...good.envelope };
    const k = pick(Object.keys(c));
    c[k] = pick(junk);
    const d = await table.check(c as unknown as SessionCall);
    assert.equal(d.allowed, false);
    assert.ok(d.code.startsWith('ERR_') && d.code !== 'ERR_INTERNAL', `${k}: ${d.code} ${d.reason}`);
    const a = table.answer(c as unknown as SessionCall, JSON.stringify({ allowed: true }));
    const answers = [
      a,
      { ...a, counter: good.envelope.counter },
      {
        counter: good.envelope.counter,
        decision: pick([
          '',
          '{',
          'null',
          '{"allowed":true,"mode":"session"}',
          JSON.stringify({ allowed: true, mode: 'session', ...good.base, grant: { resource: 'x', permissions: [], constraints: {} }, expiresAt: 1 }),
        ]),
        tag: pick([undefined, 'A'.repeat(43), good.envelope.tag, 1, null]),
      },
    ];
    for (const ans of answers) assert.equal(s.open(good, ans as never).allowed, false);
  }
});
