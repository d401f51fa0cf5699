/**
 * test/vectors/revocation-bloom.json (spec §10.9): regenerated in memory and
 * compared byte for byte; every hash vector recomputed from the spec's words
 * alone (SHA-256 and integer arithmetic, not the library's bloom code); every
 * form verified, filled ids hit, absent ids miss; every error case refused
 * with its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Keyring, CapframeError } from '../../src/index.ts';
import { parseBloomForm } from '../../src/revocation/bloom.ts';
import { BloomRevocationState } from '../../src/revocation/bloom-state.ts';
import { generateBloomVectors, BLOOM_VECTORS_PATH } from '../../scripts/vectors/revocation-bloom.ts';

const text = readFileSync(BLOOM_VECTORS_PATH, 'utf8');
const doc = JSON.parse(text);

/** §10.9 from its words: d = SHA-256("capframe-v1-revocation-bloom-index" 0x00 || id), h1, h2 | 1, (h1 + i*h2) mod bits. */
function indices(idHex: string, bits: number, k: number): { h1: number; h2: number; out: number[] } {
  const d = createHash('sha256').update('capframe-v1-revocation-bloom-index\0', 'utf8').update(Buffer.from(idHex, 'hex')).digest();
  const h1 = d.readUInt32BE(0);
  const h2 = (d.readUInt32BE(4) | 1) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(Number((BigInt(h1) + BigInt(i) * BigInt(h2)) % BigInt(bits)));
  return { h1, h2, out };
}

test('the vector file is what the generator writes', () => {
  assert.equal(generateBloomVectors(), text);
});

test('hash vectors follow the spec text', () => {
  for (const v of doc.hashes) {
    const r = indices(v.id, v.bits, v.hashes);
    assert.equal(r.h1, v.h1);
    assert.equal(r.h2, v.h2);
    assert.deepEqual(r.out, v.indices);
  }
  for (const s of doc.sizes) {
    const raw = Math.ceil((-Math.max(s.n, 1) * Math.log(s.rate)) / (Math.LN2 * Math.LN2));
    assert.equal(s.bits, Math.max(64, Math.ceil(raw / 8) * 8));
  }
});

test('forms verify; filled ids hit, absent ids miss (bits recomputed from the spec)', () => {
  const keyring = new Keyring([Buffer.from(doc.keys.authority.publicKey, 'hex')]);
  for (const f of doc.forms) {
    for (const input of [Buffer.from(f.hex, 'hex'), f.text]) {
      const p = parseBloomForm(input, keyring);
      assert.equal(p.version, f.version);
      assert.equal(p.iat, f.iat);
      assert.equal(p.count, f.count);
      assert.equal(p.bloom.bits, f.bits);
      assert.equal(p.bloom.hashes, f.hashes);
      assert.deepEqual([...p.subjects], f.subjects);
      assert.deepEqual(
        p.cutoffs.map((c) => ({ kid: Buffer.from(c.kid).toString('hex'), before: c.before })),
        f.cutoffs,
      );
      const has = (id: string) => indices(id, f.bits, f.hashes).out.every((j) => (p.bloom.filter[j >> 3]! & (1 << (j & 7))) !== 0);
      for (const id of f.ids) assert.ok(has(id), `${f.name}: ${id} must hit`);
      for (const id of f.absent) assert.ok(!has(id), `${f.name}: ${id} must miss`);
    }
  }
});

test('error vectors are refused with their code; a lower version is a rollback', () => {
  const keyring = new Keyring([Buffer.from(doc.keys.authority.publicKey, 'hex')]);
  for (const e of doc.errors) {
    assert.throws(
      () => parseBloomForm(e.text ?? Buffer.from(e.hex, 'hex'), keyring),
      (x: unknown) => x instanceof CapframeError && x.code === e.code,
      e.name,
    );
  }
  const byName = Object.fromEntries(doc.forms.map((f: { name: string }) => [f.name, f]));
  const state = new BloomRevocationState({ trusted: keyring, confirm: async () => ({ revoked: [] }), clock: () => doc.clock.t0 });
  state.update(byName[doc.rollback.held].text);
  assert.throws(
    () => state.update(byName[doc.rollback.offered].text),
    (x: unknown) => x instanceof CapframeError && x.code === doc.rollback.code,
  );
});
