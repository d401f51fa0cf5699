/**
 * The holder writes each invocation payload directly (encodeInvocationPayload);
 * it must give exactly the bytes of the general deterministic CBOR encoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeInvocationPayload, encodeInvocationPayloadGeneral } from '../../src/token/invocation-payload.ts';

test('invocation payload encoder: the same bytes as the general deterministic encoder', () => {
  let seed = 11;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rand(256));
  const text = () => {
    const pick = ['a', 'Z', '-', 'é', '日', '😀', '\uFEFF', '\uD800', '/', ':'];
    return Array.from({ length: 1 + rand(300) }, () => pick[rand(pick.length)]).join('');
  };
  const times = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1];
  for (let i = 0; i < 3000; i++) {
    const p = {
      tip: bytes(16),
      tool: text(),
      operation: text(),
      resource: text(),
      args: bytes(32),
      callId: text(),
      nonce: bytes(16),
      iat: times[rand(times.length)]!,
      exp: times[rand(times.length)]!,
    };
    const fast = encodeInvocationPayload(p);
    assert.ok(Buffer.from(fast).equals(encodeInvocationPayloadGeneral(p)), `case ${i}`);
    assert.equal(Object.getPrototypeOf(fast), Uint8Array.prototype);
  }
});
