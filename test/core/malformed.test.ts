/**
 * Malformed input, deterministic cases: truncation, trailing bytes, non-canonical
 * envelopes, bad text forms, oversize input, and correctly SIGNED payloads that
 * are malformed inside (so the strict decoder, not the signature, rejects them).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { argsDigest, createInvocation, inspect, Invocation, issueToken, Token, Verifier } from '../../src/index.ts';
import { CapframeError } from '../../src/errors.ts';
import { LIMITS } from '../../src/token/limits.ts';
import { encode, type CborMap, type CborValue } from '../../src/token/cbor.ts';
import { blockDigest } from '../../src/token/token.ts';
import {
  ALICE,
  AUTH,
  BOB,
  ERROR_CODES,
  T0,
  USERS_RW,
  assertAllowed,
  assertDenied,
  assertThrowsCode,
  callId,
  chain3,
  craftDelegation,
  craftInvocation,
  craftRoot,
  verifier,
} from './helpers.ts';

const clock = () => T0;
const read = () => ({ tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, callId: callId() });
const hexb = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

function rootMap(): CborMap {
  return new Map<number, CborValue>([
    [1, new Uint8Array(randomBytes(16))],
    [2, 'agent:alice'],
    [3, ALICE.publicKey],
    [4, [['database://users/*', ['read', 'write']]]],
    [5, T0],
    [7, T0 + 3600],
    [8, 1],
    [9, 1],
  ]);
}
const withField = (k: number, v: CborValue | undefined) => {
  const m = rootMap();
  if (v === undefined) m.delete(k);
  else m.set(k, v);
  return encode(m);
};

/** Replaces the first occurrence of `from` (hex) in `payload` by `to` (hex). */
function splice(payload: Uint8Array, from: string, to: string): Uint8Array {
  const h = Buffer.from(payload).toString('hex');
  const i = h.indexOf(from);
  assert.ok(i >= 0 && i % 2 === 0, `pattern ${from} not found`);
  return hexb(h.slice(0, i) + to + h.slice(i + from.length));
}

describe('token envelope', () => {
  const { child } = chain3();
  const good = child.bytes;

  test('every truncation of a valid 2-block token is ERR_MALFORMED at parse and a denial at verify', async () => {
    const v = verifier();
    for (let n = 0; n < good.length; n++) {
      const cut = good.subarray(0, n);
      assertThrowsCode(() => Token.parse(cut), 'ERR_MALFORMED', `length ${n}`);
      assertDenied(await v.authorize(cut, read()), 'ERR_MALFORMED', `length ${n}`);
    }
  });
  test('trailing bytes: ERR_MALFORMED', () => {
    for (const tail of ['00', 'ff', '40', good.length ? Buffer.from(good.subarray(0, 5)).toString('hex') : '']) {
      assertThrowsCode(() => Token.parse(new Uint8Array([...good, ...hexb(tail)])), 'ERR_MALFORMED', tail);
    }
  });
  test('wrong structure and types: ERR_MALFORMED', () => {
    const kid = AUTH.kid;
    const root = child.blocks[0]!.bytes;
    const cases: [string, Uint8Array][] = [
      ['a map', encode(new Map([[0, kid]]))],
      ['an array of one', encode([kid])],
      ['an empty array', encode([])],
      ['integers', encode([1, 2])],
      ['a text kid', encode(['kid', root])],
      ['7-byte kid', encode([kid.subarray(0, 7), root])],
      ['9-byte kid', encode([new Uint8Array(9), root])],
      ['root of 64 bytes', encode([kid, root.subarray(root.length - 64)])],
      ['root of 0 bytes', encode([kid, new Uint8Array(0)])],
      ['a text block', encode([kid, 'root'])],
      ['nested array block', encode([kid, [root]])],
      ['byte string', encode(good)],
      ['non-minimal array head', new Uint8Array([0x98, 0x03, ...good.subarray(1)])],
      ['indefinite array', new Uint8Array([0x9f, ...good.subarray(1), 0xff])],
      ['non-minimal kid length', new Uint8Array([0x83, 0x58, 0x08, ...good.subarray(2)])],
      ['a CBOR tag', new Uint8Array([0xc0, ...good])],
      ['single zero byte', new Uint8Array([0])],
    ];
    for (const [why, bytes] of cases) assertThrowsCode(() => Token.parse(bytes), 'ERR_MALFORMED', why);
  });
  test('text forms: wrong prefix, padding, foreign alphabet, non-canonical bits: ERR_MALFORMED', () => {
    const text = child.toString();
    const body = text.slice(5);
    const bad = [
      'cft2.' + body,
      'CFT1.' + body,
      body,
      'cft1',
      'cft1.',
      'cft1.' + body + '=',
      'cft1.' + body.replace(/[-_]/g, '+'),
      'cft1.' + body + 'A',
      'cft1.' + body.slice(0, -1) + '!',
      'cft1.' + body.slice(0, 10) + ' ' + body.slice(10),
      'cfi1.' + body,
      'cft1.' + 'AB',
      'cft1.AB==', // 'AB' has non-zero trailing bits
    ];
    for (const t of bad) assertThrowsCode(() => Token.parse(t), 'ERR_MALFORMED', t.slice(0, 12));
  });
  test('non-string, non-bytes input: ERR_MALFORMED; never a TypeError', async () => {
    const v = verifier();
    for (const x of [null, undefined, 42, {}, [], new ArrayBuffer(4), new Uint16Array(3)] as unknown[]) {
      assertThrowsCode(() => Token.parse(x as string), 'ERR_MALFORMED', String(x));
      assertDenied(await v.authorize(x as string, read()), 'ERR_MALFORMED', String(x));
    }
  });
  test('oversize: ERR_TOO_LARGE before parsing, for bytes, text and Token objects', async () => {
    const big = new Uint8Array(LIMITS.maxTokenBytes + 1).fill(0x82);
    assertThrowsCode(() => Token.parse(big), 'ERR_TOO_LARGE');
    assertThrowsCode(() => Token.parse('cft1.' + 'A'.repeat(Math.ceil((LIMITS.maxTokenBytes * 4) / 3) + 4)), 'ERR_TOO_LARGE');
    const v = verifier();
    assertDenied(await v.authorize(big, read()), 'ERR_TOO_LARGE');
    const small = verifier({ maxTokenBytes: 100 });
    assertDenied(await small.authorize(child.bytes, read()), 'ERR_TOO_LARGE');
    assertDenied(await small.authorize(child.toString(), read()), 'ERR_TOO_LARGE');
    assertDenied(await small.authorize(child, read()), 'ERR_TOO_LARGE', 'an already parsed Token must respect the verifier limit');
    assertThrowsCode(() => Token.parse(child, { maxBytes: 100 }), 'ERR_TOO_LARGE');
    // a large but valid token (16 grants of long patterns) within the limit still verifies
    const grants = Array.from({ length: 16 }, (_, i) => ({ resource: `database://users/${'x'.repeat(200)}${i}`, permissions: ['read'] }));
    const large = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [...grants.slice(0, 15), USERS_RW], ttl: 60, clock });
    assert.ok(large.bytes.length > 3000);
    assertAllowed(await v.authorize(large, read()));
    assertDenied(await verifier({ maxTokenBytes: 1000 }).authorize(large, read()), 'ERR_TOO_LARGE');
  });
  test('inspect() of malformed input throws a typed CapframeError', () => {
    for (const x of [new Uint8Array([1, 2, 3]), 'cft1.zz', good.subarray(0, 40), new Uint8Array(LIMITS.maxTokenBytes + 1)]) {
      try {
        inspect(x);
        assert.fail('inspect accepted garbage');
      } catch (e) {
        assert.ok(e instanceof CapframeError, String(e));
        assert.ok(ERROR_CODES.has(e.code));
      }
    }
  });
});

describe('correctly signed root payloads that are malformed inside: ERR_MALFORMED', () => {
  const v = verifier();
  const check = async (payload: Uint8Array, why: string) => {
    const token = craftRoot(AUTH, payload);
    assertDenied(await v.authorize(token, read()), 'ERR_MALFORMED', why);
    assertThrowsCode(() => inspect(token), 'ERR_MALFORMED', why);
  };

  test('control: the hand-built canonical payload verifies', async () => {
    assertAllowed(await v.authorize(craftRoot(AUTH, encode(rootMap())), read()));
  });
  test('non-canonical CBOR inside a signed block', async () => {
    const good = encode(rootMap());
    // exp (key 7) = T0+3600 is 1a6b49e1... ; iat (key 5) likewise. Re-encode key 8 (maxDepth 1) non-minimally.
    assert.deepEqual([...good.subarray(-2)], [0x09, 0x01], 'the format version is the last entry');
    await check(new Uint8Array([...good.subarray(0, -1), 0x18, 0x01]), 'non-minimal integer');
    // duplicate key: append a second "8: 1" and bump the map length
    await check(new Uint8Array([good[0]! + 1, ...good.subarray(1), 0x09, 0x01]), 'duplicate key');
    // unsorted: move "8: 1" to the front
    const noDepth = withField(8, undefined);
    await check(new Uint8Array([noDepth[0]! + 1, 0x08, 0x01, ...noDepth.subarray(1)]), 'unsorted keys');
    // indefinite-length map
    await check(new Uint8Array([0xbf, ...good.subarray(1), 0xff]), 'indefinite map');
    // indefinite-length grants array: 81 (array of 1) -> 9f ... ff
    const m = rootMap();
    m.set(4, [['database://users/*', ['read', 'write']]]);
    const enc = encode(m);
    const gi = Buffer.from(enc).toString('hex').indexOf('0481');
    const grantsLen = encode([['database://users/*', ['read', 'write']]]).length - 1;
    const start = gi / 2 + 1;
    await check(
      new Uint8Array([...enc.subarray(0, start), 0x9f, ...enc.subarray(start + 1, start + 1 + grantsLen), 0xff, ...enc.subarray(start + 1 + grantsLen)]),
      'indefinite array',
    );
    await check(new Uint8Array([...good, 0x00]), 'trailing byte inside the block payload');
  });
  test('unknown, missing and mistyped fields', async () => {
    await check(withField(10, 1), 'unknown field 10');
    for (const version of [0, 3, 255, '1', null]) await check(withField(9, version), `format version ${JSON.stringify(version)}`);
    await check(withField(0, new Uint8Array(16)), 'parent link in a root');
    for (const k of [1, 2, 3, 4, 5, 7, 8, 9]) await check(withField(k, undefined), `missing field ${k}`);
    const mistyped: [number, CborValue, string][] = [
      [1, new Uint8Array(15), 'token id of 15 bytes'],
      [1, 'x'.repeat(16), 'text token id'],
      [2, 5, 'integer subject'],
      [2, '', 'empty subject'],
      [2, 'a\nb', 'control char in subject'],
      [2, 'a'.repeat(257), 'subject too long'],
      [2, 'a\u0085', 'C1 control in subject'],
      [3, new Uint8Array(31), 'holder of 31 bytes'],
      [3, formatless(), 'text holder'],
      [4, [], 'no grants'],
      [4, 'database://users/*', 'grants not an array'],
      [4, [['database://users/*', ['write', 'read']]], 'unsorted permissions'],
      [4, [['database://users/*', ['read', 'read']]], 'duplicate permissions'],
      [4, [['database://users/*', []]], 'no permissions'],
      [4, [['database://users/*', ['re ad']]], 'bad permission name'],
      [4, [['database://users/../*', ['read']]], 'traversal in a pattern'],
      [4, [['DATABASE://users/*', ['read']]], 'pattern not in normal form'],
      [4, [[0, ['read']]], 'grant index in a root block'],
      [4, [['database://users/*', ['read'], new Map()]], 'empty constraints'],
      [4, [['database://users/*', ['read'], new Map([['x', [9, 1]]])]], 'unknown constraint kind'],
      [4, [['database://users/*', ['read'], new Map([['x', [2, 'a', null]]])]], 'text range bound'],
      [4, [['database://users/*', ['read'], new Map([[1, [0, 1]]])]], 'integer argument name'],
      [4, [['database://users/*', ['read'], new Map([['x', [0, [1]]]])]], 'array as exact value'],
      [4, [['database://users/*', ['read'], new Map([['x', [5, '../etc']]])]], 'relative pathUnder'],
      [4, [['database://users/*']], 'grant without permissions'],
      [4, [['database://users/*', ['read'], new Map([['x', [0, 1]]]), 1]], 'grant with 4 items'],
      [4, Array.from({ length: 17 }, (_, i) => [`database://u${i}/*`, ['read']]), '17 grants'],
      [5, -1, 'negative iat'],
      [5, 'now', 'text iat'],
      [5, 2 ** 32, 'iat beyond uint32'],
      [7, T0, 'exp equal to iat'],
      [7, T0 - 1, 'exp before iat'],
      [7, true, 'boolean exp'],
      [6, T0 + 3600, 'nbf equal to exp'],
      [8, 256, 'maxDepth above 255'],
      [8, -1, 'negative maxDepth'],
      [8, null, 'null maxDepth'],
    ];
    for (const [k, val, why] of mistyped) await check(withField(k, val), why);
    await check(encode([1, 2, 3]), 'payload is an array');
    await check(encode(new Map<string, CborValue>([['tid', 1]])), 'text keys');
  });
  test('deep nesting inside a signed payload', async () => {
    const shallow = withField(4, [['database://users/*', ['read'], new Map([['x', [0, 1]]])]]);
    await check(splice(shallow, '6178820001', '61788200' + '81'.repeat(40) + '01'), 'nested exact value');
    await check(splice(shallow, '6178820001', '61788200' + '81'.repeat(15_000) + '01'), 'very deeply nested exact value');
    const m = encode(rootMap());
    const nest = new Uint8Array(15_000).fill(0x81);
    await check(new Uint8Array([...m.subarray(0, m.length), ...nest, 0x00]), 'deeply nested trailing item');
  });
});

function formatless(): string {
  return 'cfk1.' + Buffer.from(ALICE.publicKey).toString('base64url');
}

describe('correctly signed delegation payloads that are malformed inside: ERR_MALFORMED', () => {
  const root = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 3600, maxDepth: 2, clock });
  const link = blockDigest(root.blocks[0]!.payload);
  const base = () =>
    new Map<number, CborValue>([
      [0, link],
      [2, 'agent:bob'],
      [3, BOB.publicKey],
      [8, 0],
    ]);
  const v = verifier();
  test('control, then unknown / missing / mistyped fields', async () => {
    assertAllowed(await v.authorize(craftDelegation(root, ALICE, encode(base())), read()));
    const variants: [string, (m: Map<number, CborValue>) => void][] = [
      ['token id field', (m) => m.set(1, new Uint8Array(16))],
      ['iat field', (m) => m.set(5, T0)],
      ['unknown field 9', (m) => m.set(9, 0)],
      ['missing link', (m) => m.delete(0)],
      ['missing holder', (m) => m.delete(3)],
      ['missing depth', (m) => m.delete(8)],
      ['15-byte link', (m) => m.set(0, link.subarray(0, 15))],
      ['text subject too long', (m) => m.set(2, 'b'.repeat(300))],
      ['negative grant index', (m) => m.set(4, [[-1, ['read']]])],
      ['empty grants', (m) => m.set(4, [])],
      ['float-like text exp', (m) => m.set(7, '1.5')],
    ];
    for (const [why, f] of variants) {
      const m = base();
      f(m);
      assertDenied(await v.authorize(craftDelegation(root, ALICE, encode(m)), read()), 'ERR_MALFORMED', why);
    }
    const good = encode(base());
    assert.deepEqual([...good.subarray(-2)], [0x08, 0x00], 'maxDepth is the last entry');
    assertDenied(
      await v.authorize(craftDelegation(root, ALICE, new Uint8Array([...good.subarray(0, -1), 0x18, 0x00])), read()),
      'ERR_MALFORMED',
      'non-minimal depth',
    );
  });
});

describe('invocation proofs', () => {
  const token = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 3600, clock });
  const v = verifier();
  const fields = () =>
    new Map<number, CborValue>([
      [1, token.tip()],
      [2, 'get_user'],
      [3, 'read'],
      [4, 'database://users/alice'],
      [5, argsDigest({})],
      [6, callId()],
      [7, new Uint8Array(randomBytes(16))],
      [8, T0],
      [9, T0 + 30],
    ]);
  const expected = { tool: 'get_user', args: {} };

  test('control: a hand-built canonical proof verifies', async () => {
    assertAllowed(await v.verifyInvocation(token, craftInvocation(ALICE, encode(fields())), expected));
  });
  test('signed but malformed payloads: ERR_MALFORMED', async () => {
    const variants: [string, (m: Map<number, CborValue>) => void][] = [
      ['missing tip', (m) => m.delete(1)],
      ['missing nonce', (m) => m.delete(7)],
      ['missing exp', (m) => m.delete(9)],
      ['unknown field', (m) => m.set(10, 1)],
      ['field 0', (m) => m.set(0, 1)],
      ['15-byte tip', (m) => m.set(1, token.tip().subarray(0, 15))],
      ['31-byte digest', (m) => m.set(5, new Uint8Array(31))],
      ['8-byte nonce', (m) => m.set(7, new Uint8Array(8))],
      ['empty tool', (m) => m.set(2, '')],
      ['tool with newline', (m) => m.set(2, 'a\nb')],
      ['tool with C1 control', (m) => m.set(2, 'a\u0085')],
      ['integer operation', (m) => m.set(3, 1)],
      ['empty call id', (m) => m.set(6, '')],
      ['text iat', (m) => m.set(8, 'x')],
      ['exp before iat', (m) => m.set(9, T0 - 1)],
      ['301 s lifetime', (m) => m.set(9, T0 + 301)],
      ['integer resource', (m) => m.set(4, 5)],
    ];
    for (const [why, f] of variants) {
      const m = fields();
      f(m);
      assertDenied(await v.verifyInvocation(token, craftInvocation(ALICE, encode(m)), expected), 'ERR_MALFORMED', why);
    }
    const good = encode(fields());
    assertDenied(
      await v.verifyInvocation(token, craftInvocation(ALICE, new Uint8Array([0xbf, ...good.subarray(1), 0xff])), expected),
      'ERR_MALFORMED',
      'indefinite map',
    );
    assertDenied(
      await v.verifyInvocation(token, craftInvocation(ALICE, new Uint8Array([good[0]! + 1, ...good.subarray(1), 0x09, 0x01])), expected),
      'ERR_MALFORMED',
      'duplicate key',
    );
    assertDenied(await v.verifyInvocation(token, craftInvocation(ALICE, encode([1, 2])), expected), 'ERR_MALFORMED', 'array payload');
  });
  test('a proof resource that is empty, over 1024 bytes or holds a control character: ERR_SCOPE_RESOURCE, as on the in-process path (spec §5.2)', async () => {
    for (const [why, r] of [
      ['empty', ''],
      ['too long', 'database://users/' + 'a'.repeat(1100)],
      ['newline', 'database://users/a\nb'],
      ['C1 control', 'database://users/a\u0085'],
    ] as const) {
      const m = fields();
      m.set(4, r);
      assertDenied(await v.verifyInvocation(token, craftInvocation(ALICE, encode(m)), expected), 'ERR_SCOPE_RESOURCE', `signed: ${why}`);
      assertDenied(await v.authorize(token, { ...read(), resource: r }), 'ERR_SCOPE_RESOURCE', `local: ${why}`);
    }
  });
  test('envelope: not a byte string, too short, trailing bytes, truncated, bad text: ERR_MALFORMED; oversize: ERR_TOO_LARGE', async () => {
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
    const block = p.block.bytes;
    const bad: [string, Uint8Array | string][] = [
      ['array', encode([block])],
      ['64-byte block', encode(block.subarray(block.length - 64))],
      ['empty bstr', encode(new Uint8Array(0))],
      ['trailing', new Uint8Array([...p.bytes, 0])],
      ['text item', encode('x')],
      ['empty', new Uint8Array(0)],
      ['token text', token.toString()],
      ['bad base64', 'cfi1.@@@'],
      ['no prefix', p.toString().slice(5)],
    ];
    for (let n = 0; n < p.bytes.length; n += 7) bad.push([`truncated to ${n}`, p.bytes.subarray(0, n)]);
    for (const [why, x] of bad) {
      assertThrowsCode(() => Invocation.parse(x), 'ERR_MALFORMED', why);
      assertDenied(await v.verifyInvocation(token, x, expected), 'ERR_MALFORMED', why);
    }
    assertThrowsCode(() => Invocation.parse(new Uint8Array(LIMITS.maxInvocationBytes + 1)), 'ERR_TOO_LARGE');
    assertThrowsCode(() => Invocation.parse('cfi1.' + 'A'.repeat(6000)), 'ERR_TOO_LARGE');
    assertDenied(await v.verifyInvocation(token, new Uint8Array(LIMITS.maxInvocationBytes + 1), expected), 'ERR_TOO_LARGE');
  });
});

describe('bad call descriptions never throw', () => {
  const token = issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, grants: [USERS_RW], ttl: 3600, clock });
  const v = verifier();
  test('authorize(): typed denials for unusable calls', async () => {
    const base = read();
    const cases: [string, unknown, string][] = [
      ['no call', undefined, 'ERR_INVALID_ARGUMENT'],
      ['null call', null, 'ERR_INVALID_ARGUMENT'],
      ['array args', { ...base, args: [] }, 'ERR_INVALID_ARGUMENT'],
      ['null args', { ...base, args: null }, 'ERR_INVALID_ARGUMENT'],
      ['function in args', { ...base, args: { f: () => 1 } }, 'ERR_INVALID_ARGUMENT'],
      ['bigint in args', { ...base, args: { n: 1n } }, 'ERR_INVALID_ARGUMENT'],
      ['NaN in args', { ...base, args: { n: Number.NaN } }, 'ERR_INVALID_ARGUMENT'],
      ['Date in args', { ...base, args: { d: new Date(0) } }, 'ERR_INVALID_ARGUMENT'],
      ['lone surrogate', { ...base, args: { s: '\ud800' } }, 'ERR_INVALID_ARGUMENT'],
      ['empty tool', { ...base, tool: '' }, 'ERR_MALFORMED'],
      ['tool with control', { ...base, tool: 'a\u0000' }, 'ERR_MALFORMED'],
      ['numeric operation', { ...base, operation: 5 }, 'ERR_MALFORMED'],
      ['missing call id', { ...base, callId: undefined }, 'ERR_MALFORMED'],
      ['numeric resource', { ...base, resource: 5 }, 'ERR_SCOPE_RESOURCE'],
    ];
    for (const [why, c, code] of cases) {
      assertDenied(await v.authorize(token, c as never), code as never, why);
    }
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    assertDenied(await v.authorize(token, { ...base, args: deep }), 'ERR_INVALID_ARGUMENT', 'deep args');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assertDenied(await v.authorize(token, { ...base, args: cyclic }), 'ERR_INVALID_ARGUMENT', 'cyclic args');
  });
  test('verifyInvocation(): typed denials for unusable expectations', async () => {
    const p = createInvocation(token, { key: ALICE, tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: {}, clock });
    assertDenied(await v.verifyInvocation(token, p, undefined as never), 'ERR_INVALID_ARGUMENT');
    assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: 'x' as never }), 'ERR_INVALID_ARGUMENT');
    assertDenied(await v.verifyInvocation(token, null as never, { tool: 'get_user', args: {} }), 'ERR_MALFORMED');
    assertDenied(await v.verifyInvocation(token, p, { tool: 'get_user', args: {}, resource: 'database://users/..' }), 'ERR_SCOPE_RESOURCE');
  });
  test('a Verifier with a throwing replay store or revocation check still returns a typed denial', async () => {
    const broken = new Verifier({
      trusted: [AUTH.publicKey],
      clock,
      replay: {
        checkAndRecord() {
          throw new Error('disk on fire');
        },
      },
    });
    assertDenied(await broken.authorize(token, read()), 'ERR_INTERNAL');
    const asyncBroken = new Verifier({
      trusted: [AUTH.publicKey],
      clock,
      replay: {
        checkAndRecord: async () => {
          throw new TypeError('nope');
        },
      },
    });
    assertDenied(await asyncBroken.authorize(token, read()), 'ERR_INTERNAL');
    const revoked = new Verifier({
      trusted: [AUTH.publicKey],
      clock,
      revocation: {
        check() {
          throw new CapframeError('ERR_REVOKED', 'revoked');
        },
      },
    });
    assertDenied(await revoked.authorize(token, read()), 'ERR_REVOKED');
  });
});
