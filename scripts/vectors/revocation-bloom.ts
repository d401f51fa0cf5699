/**
 * Vectors of the bloom-only compact form (docs/spec.md §10.9), written to
 * test/vectors/revocation-bloom.json and re-derived by
 * test/vectors/revocation-bloom.test.ts. Keys and ids come from fixed strings,
 * Ed25519 signatures are deterministic: the file is reproducible.
 *
 * - `hashes`: id -> h1, h2 and the bit indices for given bits / hashes.
 * - `sizes`: n ids at 1 % -> bits, hashes.
 * - `forms`: signed compact forms (hex and text) with the ids they were filled
 *   with, ids that must hit, and `absent` ids that must miss.
 * - `errors`: inputs a verifier trusting `authority` must refuse, with the code.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importSeed, kidToString } from '../../src/crypto/keys.ts';
import { bloomHashes, bloomIndices, bloomHas, bloomSize, buildBloomFilter, buildBloomForm } from '../../src/revocation/bloom.ts';
import { sortIds } from '../../src/revocation/snapshot.ts';

const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const idOf = (name: string) => sha(`capframe-v1 test vector revoked id: ${name}`).subarray(0, 16);
const T0 = 1767225600;

export function generateBloomVectors(): string {
  const authority = importSeed(sha('capframe-v1 test vector key: authority'));
  const mallory = importSeed(sha('capframe-v1 test vector key: mallory'));
  const hashes = ['a', 'b', 'c', 'd'].map((n) => {
    const id = idOf(n);
    const [h1, h2] = bloomHashes(id);
    return { id: hex(id), h1, h2, bits: 958512, hashes: 7, indices: bloomIndices(id, 958512, 7) };
  });
  const sizes = [0, 1, 10, 1000, 100_000].map((n) => ({ n, rate: 0.01, ...bloomSize(n) }));
  const forms = [
    { name: 'empty', ids: [] as string[], subjects: [] as string[], cutoffs: [] as { kid: Uint8Array; before: number }[], version: 0 },
    {
      name: 'ten-ids',
      ids: Array.from({ length: 10 }, (_, i) => `id${i}`),
      subjects: ['agent:mallory', 'agent:eve'],
      cutoffs: [{ kid: mallory.kid, before: T0 - 3600 }],
      version: 12,
    },
  ].map((c) => {
    const ids = sortIds(c.ids.map(idOf));
    const bloom = buildBloomFilter(ids);
    const form = buildBloomForm({ version: c.version, iat: T0, count: ids.length / 16, bloom, subjects: c.subjects, cutoffs: c.cutoffs }, authority);
    const absent = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']
      .map(idOf)
      .filter((id) => !bloomHas(bloom, id))
      .map(hex);
    return {
      name: c.name,
      signer: 'authority',
      kid: kidToString(authority.kid),
      version: c.version,
      iat: T0,
      count: ids.length / 16,
      bits: bloom.bits,
      hashes: bloom.hashes,
      ids: Array.from({ length: ids.length / 16 }, (_, i) => hex(ids.subarray(i * 16, i * 16 + 16))),
      subjects: [...c.subjects].sort(),
      cutoffs: c.cutoffs.map((x) => ({ kid: hex(x.kid), before: x.before })),
      absent,
      hex: hex(form.bytes),
      text: form.text,
    };
  });
  const ten = Buffer.from(forms[1]!.hex, 'hex');
  const flip = (at: number) => {
    const b = Uint8Array.from(ten);
    b[at]! ^= 1;
    return hex(b);
  };
  const unsigned = buildBloomForm({ version: 99, iat: T0, count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, mallory);
  const errors = [
    { name: 'payload-bit-flipped', hex: flip(ten.length - 100), code: 'ERR_SIGNATURE_INVALID' },
    { name: 'signature-bit-flipped', hex: flip(ten.length - 1), code: 'ERR_SIGNATURE_INVALID' },
    { name: 'signed-by-untrusted-key', hex: hex(unsigned.bytes), code: 'ERR_UNKNOWN_KEY' },
    { name: 'truncated', hex: hex(ten.subarray(0, ten.length - 1)), code: 'ERR_MALFORMED' },
    { name: 'snapshot-prefix', text: 'cfr1.' + forms[1]!.text.slice('cfrb1.'.length), code: 'ERR_MALFORMED' },
  ];
  const doc = {
    description: 'capframe revocation bloom-only compact form (docs/spec.md §10.9)',
    clock: { t0: T0 },
    derivation: {
      keys: 'seed = SHA-256(UTF-8("capframe-v1 test vector key: " + name)); authority and mallory as in capframe-v1.json',
      ids: 'id = first 16 bytes of SHA-256(UTF-8("capframe-v1 test vector revoked id: " + name))',
    },
    keys: {
      authority: { publicKey: hex(authority.publicKey), kid: hex(authority.kid) },
      mallory: { publicKey: hex(mallory.publicKey), kid: hex(mallory.kid) },
    },
    hashes,
    sizes,
    forms,
    errors,
    rollback: { held: 'ten-ids', offered: 'empty', code: 'ERR_REVOCATION_ROLLBACK' },
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export const BLOOM_VECTORS_PATH = fileURLToPath(new URL('../../test/vectors/revocation-bloom.json', import.meta.url));

export function writeBloomVectors(): void {
  writeFileSync(BLOOM_VECTORS_PATH, generateBloomVectors());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeBloomVectors();
  console.log(`wrote ${BLOOM_VECTORS_PATH}`);
}
