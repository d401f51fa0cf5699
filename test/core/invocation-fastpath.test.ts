/**
 * decodeInvocationPayload() reads valid payloads with a direct byte reader
 * (readInvocationPayloadFast) and everything else with the strict CBOR
 * decoder. The reader must read every valid payload itself, accept nothing
 * the strict decoder refuses, and give the same fields: here the reader is
 * called on its own, and the two paths are compared on valid payloads, on
 * many mutations of them and on layouts only the strict decoder handles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, issueToken } from '../../src/index.ts';
import {
  decodeInvocationPayload, decodeInvocationPayloadStrict, encodeInvocationPayload, readInvocationPayloadFast,
} from '../../src/token/invocation-payload.ts';
import { ALICE, AUTH, T0, USERS_RW } from './helpers.ts';

function outcome(f: () => unknown): string {
  try {
    const p = f() as Record<string, unknown>;
    return 'ok ' + JSON.stringify(p, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  } catch (e) {
    return 'err ' + ((e as { code?: string }).code ?? 'plain') + ' ' + (e as Error).message;
  }
}

test('invocation payload fast path: reads every valid payload itself, agrees with the strict decoder on mutations', () => {
  const token = issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants: [USERS_RW], ttl: '1h', clock: () => T0 });
  const samples: Uint8Array[] = [];
  const names = ['get_user', 'x', 'ü-ñame', 'a'.repeat(23), 'b'.repeat(24), 'c'.repeat(255), 'd'.repeat(256), '\uFEFFbom', '日本語'];
  for (const [i, name] of names.entries()) {
    samples.push(createInvocation(token, {
      key: ALICE, tool: name, operation: 'read', resource: `database://users/u${'x'.repeat(i * 40)}`,
      args: { i }, callId: `c-${i}`, clock: () => T0 + i * 1000,
    }).block.payload);
  }
  // Times at the edges of each integer width.
  for (const iat of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 301]) {
    samples.push(encodeInvocationPayload({
      tip: new Uint8Array(16), tool: 't', operation: 'read', resource: 'database://users/a', args: new Uint8Array(32),
      callId: 'c', nonce: new Uint8Array(16), iat, exp: iat + 300,
    }));
  }
  for (const s of samples) {
    const fast = readInvocationPayloadFast(s);
    assert.ok(fast !== undefined, `the direct reader did not read a valid payload: ${Buffer.from(s).toString('hex')}`);
    assert.equal(outcome(() => fast), outcome(() => decodeInvocationPayloadStrict(s)));
  }
  let seed = 7;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  let fastRead = 0;
  let compared = 0;
  for (const s of samples) {
    for (let k = 0; k < 600; k++) {
      let v = Uint8Array.from(s);
      const kind = rand(4);
      if (kind === 0) v[rand(v.length)] = rand(256);
      else if (kind === 1) v[rand(v.length)]! ^= 1 << rand(8);
      else if (kind === 2) v = v.subarray(0, rand(v.length));
      else { const c = new Uint8Array(v.length + 1); const at = rand(v.length + 1); c.set(v.subarray(0, at)); c[at] = rand(256); c.set(v.subarray(at), at + 1); v = c; }
      compared++;
      const fast = readInvocationPayloadFast(v);
      const strict = outcome(() => decodeInvocationPayloadStrict(v));
      if (fast !== undefined) fastRead++;
      // The same fields or the same error as the strict decoder alone, whichever path read the bytes.
      assert.equal(outcome(() => decodeInvocationPayload(v)), strict, Buffer.from(v).toString('hex'));
    }
  }
  // Byte changes inside texts, digests and times keep the layout: the reader must have read many of them itself.
  assert.ok(compared > 10_000 && fastRead > 1000, `${compared} compared, ${fastRead} read by the direct reader`);
});

test('invocation payload fast path: layouts only the strict decoder handles fall through to it', () => {
  const valid = encodeInvocationPayload({
    tip: new Uint8Array(16), tool: 't', operation: 'read', resource: 'database://users/a', args: new Uint8Array(32),
    callId: 'c', nonce: new Uint8Array(16), iat: 1000, exp: 1300,
  });
  const hex = Buffer.from(valid).toString('hex');
  const at = (needle: string, replacement: string) => {
    assert.ok(hex.includes(needle), needle);
    return Uint8Array.from(Buffer.from(hex.replace(needle, replacement), 'hex'));
  };
  const long = encodeInvocationPayload({
    tip: new Uint8Array(16), tool: 't', operation: 'read', resource: 'database://users/' + 'a'.repeat(5000), args: new Uint8Array(32),
    callId: 'c', nonce: new Uint8Array(16), iat: 1000, exp: 1300,
  });
  const unusual: Record<string, Uint8Array> = {
    'non-shortest time head': at('081903e8', '081a000003e8'),
    'non-shortest text head': at('0261740364', '02780174' + '0364'),
    'invalid UTF-8 in the tool name': at('026174', '0261ff'),
    'indefinite-length tool name': at('026174', '027f6174ff'),
    'trailing byte': Uint8Array.from([...valid, 0]),
    'a tenth field': Uint8Array.from([0xaa, ...valid.subarray(1), 0x0a, 0x00]),
    'a resource over the limit': long,
  };
  for (const [what, bytes] of Object.entries(unusual)) {
    assert.equal(readInvocationPayloadFast(bytes), undefined, `the direct reader read ${what}`);
    const got = outcome(() => decodeInvocationPayload(bytes));
    assert.ok(got.startsWith('err ERR_MALFORMED'), `${what}: ${got}`);
    assert.equal(got, outcome(() => decodeInvocationPayloadStrict(bytes)), what);
  }
});

test('invocation payload encoder: the same bytes as the general deterministic encoder', async () => {
  const { encodeInvocationPayloadGeneral } = await import('../../src/token/invocation-payload.ts');
  let seed = 11;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rand(256));
  const text = () => {
    const pick = ['a', 'Z', '-', 'é', '日', '😀', '\uFEFF', '\uD800', '/', ':'];
    return Array.from({ length: 1 + rand(300) }, () => pick[rand(pick.length)]).join('');
  };
  const times = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1];
  for (let i = 0; i < 3000; i++) {
    const p = {
      tip: bytes(16), tool: text(), operation: text(), resource: text(), args: bytes(32), callId: text(), nonce: bytes(16),
      iat: times[rand(times.length)]!, exp: times[rand(times.length)]!,
    };
    const fast = encodeInvocationPayload(p);
    assert.ok(Buffer.from(fast).equals(encodeInvocationPayloadGeneral(p)), `case ${i}`);
    assert.equal(Object.getPrototypeOf(fast), Uint8Array.prototype);
  }
});
