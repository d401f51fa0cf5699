/**
 * Both Ed25519 backends against public conformance data (test/vectors/README.md):
 * all 151 Wycheproof cases and the 4 RFC 8032 §7.1 vectors. Plus the private
 * key file round trip and typed errors for bad key text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CapframeError } from '../src/errors.ts';
import { formatPublicKey, importSeed, parsePrivateKey, parsePublicKey, serializePrivateKey } from '../src/index.ts';
import { keyId } from '../src/crypto/keys.ts';
import { nobleBackend } from '../src/crypto/noble.ts';
import { nodeBackend } from '../src/crypto/node.ts';
import { type Ed25519Backend } from '../src/crypto/backend.ts';

const load = (f: string) => JSON.parse(readFileSync(new URL(`./vectors/${f}`, import.meta.url), 'utf8'));
const wycheproof = load('wycheproof-ed25519.json') as {
  numberOfTests: number;
  testGroups: { publicKey: { pk: string }; tests: { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid' }[] }[];
};
const rfc8032 = load('rfc8032-ed25519.json') as { priv: string; pub: string; msg: string; sig: string }[];
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const backends: Ed25519Backend[] = [nodeBackend(), nobleBackend()];

function isCode(code: string) {
  return (e: unknown) => e instanceof CapframeError && e.code === code;
}

for (const backend of backends) {
  test(`[${backend.name}] Wycheproof: expected decision on all 151 cases`, () => {
    let n = 0,
      valid = 0;
    for (const g of wycheproof.testGroups) {
      const pk = hex(g.publicKey.pk);
      for (const t of g.tests) {
        const got = backend.verify(pk, hex(t.msg), hex(t.sig));
        assert.equal(got, t.result === 'valid', `tcId ${t.tcId} (${t.comment}): expected ${t.result}`);
        n++;
        if (got) valid++;
      }
    }
    assert.equal(n, 151);
    assert.equal(n, wycheproof.numberOfTests);
    assert.equal(valid, 88);
  });

  test(`[${backend.name}] RFC 8032 §7.1: public keys and signatures reproduced, signatures verify`, () => {
    assert.equal(rfc8032.length, 4);
    for (const v of rfc8032) {
      assert.equal(toHex(backend.publicKeyFromSeed(hex(v.priv))), v.pub);
      assert.equal(toHex(backend.sign(hex(v.priv), hex(v.msg))), v.sig);
      assert.equal(backend.verify(hex(v.pub), hex(v.msg), hex(v.sig)), true);
      const bad = hex(v.sig);
      bad[0]! ^= 1;
      assert.equal(backend.verify(hex(v.pub), hex(v.msg), bad), false);
    }
  });

  test(`[${backend.name}] verify returns false, never throws, on wrong lengths`, () => {
    const v = rfc8032[0]!;
    assert.equal(backend.verify(hex(v.pub).subarray(0, 31), hex(v.msg), hex(v.sig)), false);
    assert.equal(backend.verify(hex(v.pub), hex(v.msg), hex(v.sig).subarray(0, 63)), false);
    assert.equal(backend.verify(new Uint8Array(32), hex(v.msg), hex(v.sig)), false);
  });
}

test('both backends derive the same key and signature (cross-check)', () => {
  const [a, b] = backends as [Ed25519Backend, Ed25519Backend];
  const seed = hex('11'.repeat(32));
  const msg = new TextEncoder().encode('capframe');
  assert.equal(toHex(a.publicKeyFromSeed(seed)), toHex(b.publicKeyFromSeed(seed)));
  const sig = a.sign(seed, msg);
  assert.equal(toHex(sig), toHex(b.sign(seed, msg)));
  assert.equal(b.verify(a.publicKeyFromSeed(seed), msg, sig), true);
});

test('private key file round trip keeps seed, public key and kid', () => {
  const v = rfc8032[1]!;
  for (const backend of backends) {
    const key = importSeed(hex(v.priv), backend);
    const text = serializePrivateKey(key);
    const doc = JSON.parse(text);
    assert.equal(doc.type, 'capframe-ed25519-private-key');
    assert.equal(doc.publicKey, formatPublicKey(hex(v.pub)));
    const back = parsePrivateKey(text, backend);
    assert.equal(toHex(back.seed), v.priv);
    assert.equal(toHex(back.publicKey), v.pub);
    assert.equal(toHex(back.kid), toHex(keyId(hex(v.pub))));
    assert.equal(back.kid.length, 8);
    assert.equal(toHex(parsePublicKey(formatPublicKey(back.publicKey))), v.pub);
  }
});

test('bad key text is refused with typed errors', () => {
  const v = rfc8032[0]!;
  const good = JSON.parse(serializePrivateKey(importSeed(hex(v.priv))));
  const other = formatPublicKey(hex(rfc8032[1]!.pub));
  const badFiles: [string, string][] = [
    ['not json', 'ERR_MALFORMED'],
    ['{}', 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, type: 'something-else' }), 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, privateKey: undefined }), 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, privateKey: good.privateKey.slice(0, 40) }), 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, privateKey: good.privateKey + '==' }), 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, privateKey: good.privateKey.replace(/^./, '+') }), 'ERR_MALFORMED'],
    [JSON.stringify({ ...good, publicKey: other }), 'ERR_MALFORMED'],
  ];
  for (const [text, code] of badFiles) assert.throws(() => parsePrivateKey(text), isCode(code), text.slice(0, 60));
  const pk = formatPublicKey(hex(v.pub));
  // wrong prefix, no prefix, 33 and 31 bytes, padding, standard-alphabet character, whitespace inside, non-canonical last character
  const lastNonCanonical = pk.slice(0, -1) + String.fromCharCode(pk.charCodeAt(pk.length - 1) + 1);
  for (const text of [
    '',
    'cfk2.' + pk.slice(5),
    pk.slice(5),
    pk + 'AA',
    pk.slice(0, -2),
    pk + '=',
    'cfk1.+' + pk.slice(6),
    pk.slice(0, 10) + ' ' + pk.slice(10),
    lastNonCanonical,
  ]) {
    assert.throws(() => parsePublicKey(text), isCode('ERR_MALFORMED'), JSON.stringify(text));
  }
  assert.throws(() => importSeed(new Uint8Array(31)), isCode('ERR_INVALID_ARGUMENT'));
});
