/**
 * The limit vectors (docs/spec.md §14.7): the file is what the generator
 * makes, and an independent run of every case on a fresh verifier gives the
 * recorded answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateLimitVectors, expectOf, T0 } from '../../scripts/vectors/limits.ts';
import { importSeed, Verifier, type LocalCall } from '../../src/index.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { Token } from '../../src/token/token.ts';
import { encode } from '../../src/token/cbor.ts';
import { createHash } from 'node:crypto';

const FILE = new URL('./limits.json', import.meta.url);
const vectors = JSON.parse(readFileSync(FILE, 'utf8')) as {
  tokens: { name: string; hex: string; text: string; expect: { chainIds: string[]; version: number; blocks: unknown[] } }[];
  tokenErrors: { name: string; hex: string; expect: { code: string } }[];
  sequences: { name: string; steps: { token: string; now: number; call: LocalCall; expect: unknown }[] }[];
};
const authority = importSeed(new Uint8Array(createHash('sha256').update('capframe-v1 test vector key: authority').digest()));

test('the file is exactly what the generator makes', () => {
  assert.equal(generateLimitVectors(), readFileSync(FILE, 'utf8'));
});

test('every valid token verifies, with the recorded blocks and limits', () => {
  const v = new Verifier({ trusted: [authority.publicKey], clock: () => T0 });
  assert.ok(vectors.tokens.length >= 6);
  for (const t of vectors.tokens) {
    const chain = v.verifyToken(Buffer.from(t.hex, 'hex'));
    assert.deepEqual(chain.ids, t.expect.chainIds, t.name);
    assert.equal(Token.parse(t.text).toString(), t.text);
    const blocks = decodeChain(chain.token).blocks.map((b) => ({
      inheritsGrants: b.inheritsGrants,
      grants: b.grants.map((g) => ({
        resource: g.resource,
        permissions: [...g.permissions],
        ...(g.rate ? { rate: { ...g.rate } } : {}),
        ...(g.budget ? { budget: { ...g.budget } } : {}),
      })),
    }));
    assert.deepEqual(blocks, t.expect.blocks, t.name);
  }
});

test('every invalid token is refused with its code', () => {
  const v = new Verifier({ trusted: [authority.publicKey], clock: () => T0 });
  for (const e of vectors.tokenErrors) {
    assert.throws(() => v.verifyToken(Buffer.from(e.hex, 'hex')), { code: e.expect.code }, e.name);
  }
});

test('every sequence gives the recorded decisions on a fresh verifier', async () => {
  const tokens = new Map(vectors.tokens.map((t) => [t.name, t.text]));
  for (const s of vectors.sequences) {
    let now = T0;
    const v = new Verifier({ trusted: [authority.publicKey], clock: () => now, clockSkew: 30, invocationWindow: 30 });
    for (const [i, step] of s.steps.entries()) {
      now = step.now;
      const d = await v.authorize(tokens.get(step.token)!, step.call);
      assert.deepEqual(expectOf(d), step.expect, `${s.name} step ${i}`);
    }
  }
});

test('the CBOR of the options map in spec §14.1', () => {
  const m = new Map([
    [3, [100, 3600]],
    [4, ['amount', '50', 86400]],
  ]);
  assert.equal(Buffer.from(encode(m)).toString('hex'), 'a203821864190e100483' + '66616d6f756e74' + '623530' + '1a00015180');
});
