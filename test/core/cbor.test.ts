/** The deterministic CBOR subset: exact encodings, and strict decoding that rejects every non-canonical form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStrict, encode, type CborValue } from '../../src/token/cbor.ts';
import { assertThrowsCode } from './helpers.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

test('integers use the shortest head (RFC 8949 §4.2.1), including boundaries', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [255, '18ff'],
    [256, '190100'],
    [65535, '19ffff'],
    [65536, '1a00010000'],
    [0xffffffff, '1affffffff'],
    [0x100000000, '1b0000000100000000'],
    [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
    [-1, '20'],
    [-24, '37'],
    [-25, '3818'],
    [-256, '38ff'],
    [-257, '390100'],
    [Number.MIN_SAFE_INTEGER, '3b001ffffffffffffe'],
  ];
  for (const [n, h] of cases) {
    assert.equal(hex(encode(n)), h, String(n));
    assert.equal(decodeStrict(bytes(h)), n, h);
  }
});

test('strings, byte strings, arrays, booleans, null', () => {
  assert.equal(hex(encode('')), '60');
  assert.equal(hex(encode('a')), '6161');
  assert.equal(hex(encode('\u00fc')), '62c3bc');
  assert.equal(hex(encode(new Uint8Array([1, 2]))), '420102');
  assert.equal(hex(encode([1, [2, 3]])), '8201820203');
  assert.equal(hex(encode([true, false, null])), '83f5f4f6');
  const v: CborValue = [new Uint8Array(30), 'x'.repeat(30), [], new Map<number, CborValue>([[1, 'a']])];
  assert.deepEqual(decodeStrict(encode(v)), v);
});

test('map keys are sorted bytewise by their encoding, whatever the insertion order', () => {
  const m = new Map<number | string, CborValue>([
    ['b', 1],
    [10, 2],
    ['a', 3],
    [-1, 4],
    [1, 5],
    [24, 6],
    ['aa', 7],
  ]);
  // 01 < 0a < 1818 < 20 < 6161 < 6162 < 626161
  assert.equal(hex(encode(m)), 'a7' + '0105' + '0a02' + '181806' + '2004' + '616103' + '616201' + '62616107');
  const back = decodeStrict(encode(m)) as Map<number | string, CborValue>;
  assert.equal(back.get('aa'), 7);
  assert.equal(back.get(24), 6);
});

test('strict decode rejects non-canonical encodings with ERR_MALFORMED', () => {
  const bad: [string, string][] = [
    ['1817', 'non-minimal uint (23 in one extra byte)'],
    ['190017', 'non-minimal uint16'],
    ['1a000000ff', 'non-minimal uint32'],
    ['1b00000000ffffffff', 'non-minimal uint64'],
    ['3817', 'non-minimal negative'],
    ['780161', 'non-minimal text length'],
    ['5801ff', 'non-minimal byte string length'],
    ['9801 01', 'non-minimal array length'],
    ['b801 0101', 'non-minimal map length'],
    ['9f0102ff', 'indefinite array'],
    ['bf0101ff', 'indefinite map'],
    ['5f4101ff', 'indefinite byte string'],
    ['7f6161ff', 'indefinite text'],
    ['a2 0101 0102', 'duplicate key'],
    ['a2 0201 0102', 'unsorted keys'],
    ['a2 6161 01 01 02', 'text key before integer key'],
    ['f93c00', 'half float'],
    ['fa3f800000', 'float32'],
    ['fb3ff0000000000000', 'float64'],
    ['f7', 'undefined'],
    ['f0', 'simple value 16'],
    ['c11a5f5e1000', 'tag 1 (epoch time)'],
    ['d84042 0102', 'tag 64 (typed array)'],
    ['c249 010000000000000000', 'bignum'],
    ['1b0020000000000000', 'integer above 2^53'],
    ['3b0020000000000000', 'integer below -2^53'],
    ['0000', 'trailing bytes'],
    ['820102 00', 'trailing byte after an array'],
    ['83 0102', 'truncated array'],
    ['62 61', 'truncated text'],
    ['1a0000', 'truncated head'],
    ['', 'empty input'],
    ['ff', 'break outside indefinite item'],
    ['62c328', 'invalid UTF-8 in text'],
    ['a1 4101 01', 'byte-string map key'],
    ['a1 80 01', 'array map key'],
  ];
  for (const [h, why] of bad) assertThrowsCode(() => decodeStrict(bytes(h)), 'ERR_MALFORMED', why);
});

test('deep nesting is ERR_MALFORMED, not a stack overflow', () => {
  for (const depth of [33, 100, 10_000, 200_000]) {
    const b = new Uint8Array(depth + 1).fill(0x81);
    b[depth] = 0x00;
    assertThrowsCode(() => decodeStrict(b), 'ERR_MALFORMED', `depth ${depth}`);
  }
  const m = new Uint8Array(20_001).fill(0xa1);
  for (let i = 0; i < 20_000; i += 2) m[i + 1] = 0x01;
  assertThrowsCode(() => decodeStrict(m), 'ERR_MALFORMED', 'nested maps');
  // 32 levels is fine
  const ok = new Uint8Array(33).fill(0x81);
  ok[32] = 0x00;
  assert.ok(Array.isArray(decodeStrict(ok)));
  let deep: CborValue = 0;
  for (let i = 0; i < 40; i++) deep = [deep];
  assertThrowsCode(() => encode(deep), 'ERR_MALFORMED');
});

test('huge declared lengths are ERR_MALFORMED without allocating', () => {
  for (const h of ['9bffffffffffffffff', '9affffffff', '5affffffff00', '7bffffffffffffffff61', 'bb7fffffffffffffff']) {
    assertThrowsCode(() => decodeStrict(bytes(h)), 'ERR_MALFORMED', h);
  }
});

test('encode() refuses values outside the subset', () => {
  for (const v of [1.5, Number.NaN, Infinity, 2 ** 53, undefined, {}, () => 1, 10n] as unknown[]) {
    assertThrowsCode(() => encode(v as CborValue), 'ERR_MALFORMED', String(v));
  }
  assertThrowsCode(() => encode(new Map([[true as unknown as number, 1]])), 'ERR_MALFORMED');
});
