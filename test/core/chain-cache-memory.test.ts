/** The verified-chain cache is bounded by memory, not by a small count: thousands of agents stay cached. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { delegate, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import { type Ed25519Backend } from '../../src/crypto/backend.ts';
import { SizedLru } from '../../src/verify/sized-lru.ts';

function counting(): Ed25519Backend & { verifies: number } {
  const b = nodeBackend();
  const c = {
    name: b.name,
    verifies: 0,
    publicKeyFromSeed: (s: Uint8Array) => b.publicKeyFromSeed(s),
    sign: (s: Uint8Array, m: Uint8Array) => b.sign(s, m),
    verify(k: Uint8Array, m: Uint8Array, sig: Uint8Array) {
      c.verifies++;
      return b.verify(k, m, sig);
    },
  };
  return c;
}

function fleet(n: number) {
  const authority = generateKey();
  const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const agent = generateKey();
    const root = issueToken({ key: authority, subject: `agent:${i}`, holder: agent.publicKey, grants, ttl: '1h', maxDepth: 1 });
    texts.push(delegate(root, { key: agent, to: generateKey().publicKey, subject: `agent:${i}:w`, ttl: '30m' }).toString());
  }
  return { authority, texts };
}

test("2,000 distinct agents' 2-block tokens in rotation: after one pass, no signature is checked again", () => {
  const { authority, texts } = fleet(2000);
  const backend = counting();
  const v = new Verifier({ trusted: [authority.publicKey], backend });
  for (const s of texts) v.verifyToken(s);
  const afterFirst = backend.verifies;
  assert.ok(afterFirst >= 2000);
  for (let pass = 0; pass < 2; pass++) for (const s of texts) v.verifyToken(s);
  assert.equal(backend.verifies, afterFirst, 'every chain came from the cache');
});

test('a small byte budget evicts the least recently used chains', () => {
  const { authority, texts } = fleet(50);
  const backend = counting();
  const v = new Verifier({ trusted: [authority.publicKey], backend, chainCacheBytes: 20 * 4200, signatureCacheSize: 1 });
  for (const s of texts) v.verifyToken(s);
  const n = backend.verifies;
  v.verifyToken(texts[49]!); // recent: cached
  assert.equal(backend.verifies, n);
  v.verifyToken(texts[0]!); // evicted long ago: verified again
  assert.ok(backend.verifies > n);
});

test('SizedLru keeps the byte sum and evicts oldest first', () => {
  const c = new SizedLru<string, number>(100);
  c.set('a', 1, 40);
  c.set('b', 2, 40);
  assert.equal(c.get('a'), 1); // a is now the most recent
  c.set('c', 3, 40);
  assert.deepEqual([c.get('a'), c.get('b'), c.get('c'), c.bytes, c.size], [1, undefined, 3, 80, 2]);
  c.set('a', 9, 10);
  assert.equal(c.bytes, 50);
  c.delete('c');
  assert.deepEqual([c.bytes, c.size], [10, 1]);
});
