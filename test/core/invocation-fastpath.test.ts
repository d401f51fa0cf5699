/**
 * decodeInvocationPayload() reads valid payloads with a direct byte reader
 * and everything else with the general strict CBOR decoder. The reader must
 * accept nothing the general decoder refuses, and give the same fields: here
 * the two are compared on valid payloads and on many mutations of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, issueToken } from '../../src/index.ts';
import { decodeStrict } from '../../src/token/cbor.ts';
import { decodeInvocationPayload, encodeInvocationPayload } from '../../src/token/invocation-payload.ts';
import { ALICE, AUTH, T0, USERS_RW } from './helpers.ts';

/** The general strict CBOR decoder on its own: the decoded map, byte strings as hex. */
function generalDecode(bytes: Uint8Array): unknown {
  const m = decodeStrict(bytes);
  if (!(m instanceof Map)) throw new Error("not a map");
  return Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v]));
}

function outcome(f: () => unknown): string {
  try {
    const p = f() as Record<string, unknown>;
    return 'ok ' + JSON.stringify(p, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  } catch (e) {
    return 'err ' + ((e as { code?: string }).code ?? 'plain');
  }
}

test('invocation payload fast path: same result as the general decoder on valid and mutated payloads', () => {
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
  let seed = 7;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  let fastOk = 0;
  let compared = 0;
  for (const s of samples) {
    const variants: Uint8Array[] = [s];
    for (let k = 0; k < 600; k++) {
      const m = Uint8Array.from(s);
      const kind = rand(4);
      if (kind === 0) m[rand(m.length)] = rand(256);
      else if (kind === 1) m[rand(m.length)]! ^= 1 << rand(8);
      else if (kind === 2) variants.push(m.subarray(0, rand(m.length)));
      else { const c = new Uint8Array(m.length + 1); const at = rand(m.length + 1); c.set(m.subarray(0, at)); c[at] = rand(256); c.set(m.subarray(at), at + 1); variants.push(c); continue; }
      variants.push(m);
    }
    for (const v of variants) {
      const got = outcome(() => decodeInvocationPayload(v));
      let general: string;
      try {
        general = 'ok ' + JSON.stringify(generalDecode(v));
      } catch {
        general = 'err';
      }
      compared++;
      if (got.startsWith('ok ')) {
        fastOk++;
        // Whatever is accepted must decode the same way with the general strict decoder.
        assert.ok(general.startsWith('ok '), `accepted bytes the strict decoder refuses: ${Buffer.from(v).toString('hex')}`);
        const p = JSON.parse(got.slice(3));
        const g = JSON.parse(general.slice(3));
        assert.deepEqual([p.tip, p.tool, p.operation, p.resource, p.args, p.callId, p.nonce, p.iat, p.exp], [g['1'], g['2'], g['3'], g['4'], g['5'], g['6'], g['7'], g['8'], g['9']]);
      }
    }
  }
  assert.ok(compared > 10_000 && fastOk > samples.length, `${compared} compared, ${fastOk} accepted`);
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
