/**
 * Invocation.parse reads a single proof's envelope (a CBOR byte string)
 * without the general decoder: it must accept exactly what decodeStrict
 * accepts (the shortest length head, nothing after the content) and refuse
 * every other form as malformed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { Invocation } from '../../src/token/invocation.ts';
import { decodeStrict } from '../../src/token/cbor.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:t',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'noop://t/*', permissions: ['read'] }],
});
const call = { tool: 'noop', operation: 'read', resource: 'noop://t/1', args: { id: '1' } };

function malformed(bytes: Uint8Array, what: string): void {
  assert.throws(
    () => Invocation.parse(bytes),
    (e: { code?: string }) => e.code === 'ERR_MALFORMED',
    what,
  );
}

test('invocation envelope: the same proof as the general decoder reads', () => {
  const proof = createInvocation(token, { key: holder, ...call });
  const parsed = Invocation.parse(proof.bytes);
  const general = decodeStrict(proof.bytes) as Uint8Array;
  assert.deepEqual([...parsed.block.payload, ...parsed.block.signature], [...general]);
  assert.equal(String(Invocation.parse(String(proof))), String(proof));
  const v = new Verifier({ trusted: [authority.publicKey] });
  return v.verifyInvocation(token, String(proof), call).then((d) => assert.equal(d.allowed, true));
});

test('invocation envelope: non-deterministic or partial byte strings are malformed', () => {
  const proof = createInvocation(token, { key: holder, ...call });
  const b = proof.bytes;
  const content = b.subarray(b[0] === 0x58 ? 2 : 3);
  const n = content.length;
  assert.ok(n >= 24 && n < 256, 'a one-byte length head in this test');
  // The length in a longer head than needed.
  malformed(Uint8Array.from([0x59, 0, n, ...content]), 'two-byte length head');
  malformed(Uint8Array.from([0x5a, 0, 0, 0, n, ...content]), 'four-byte length head');
  // Indefinite length, one chunk.
  malformed(Uint8Array.from([0x5f, 0x58, n, ...content, 0xff]), 'indefinite length');
  // Trailing and missing bytes.
  malformed(Uint8Array.from([...b, 0]), 'trailing byte');
  malformed(b.subarray(0, b.length - 1), 'truncated');
  malformed(Uint8Array.from([0x58]), 'head only');
  malformed(Uint8Array.from([0x40]), 'empty byte string');
  // Another major type (a text string of the same bytes).
  malformed(Uint8Array.from([0x78, n, ...content]), 'text string');
});
