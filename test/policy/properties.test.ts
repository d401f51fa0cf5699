/**
 * Property tests of the constraint kinds (docs/spec.md §6.2, §6.3), with
 * fast-check:
 * - soundness of attenuation: whenever covers(parent, child) accepts, every
 *   value the child admits is admitted by the parent (checked on a fixed pool
 *   of tricky values plus random ones);
 * - the CBOR form round-trips: encode, strict decode, same constraint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { admits, decodeConstraints, encodeConstraints, validateConstraint, type Constraint } from '../../src/token/constraints.ts';
import { covers } from '../../src/token/policy/covers.ts';
import { decodeStrict, encode } from '../../src/token/cbor.ts';

const SCALARS = ['a', 'b', 'c', 'ab', '', 'INV-1', 1, 2, 3, 0, -1, true, false, null] as const;
const scalar = fc.constantFrom(...SCALARS);
const DECIMALS = ['0', '0.1', '0.3', '1', '2.5', '10', '10.5', '-1', '-0.5', '100'];
const STRINGS = [
  'a',
  'ab',
  'abc',
  'INV-',
  'INV-1',
  'x@acme.example',
  'x@evil.example',
  '/srv/a',
  '/srv/a/b',
  '/srv/ab',
  '/',
  'a*',
  '10.0.0.1',
  '192.168.1.5',
  '::1',
  'fe80::1',
  '2001:db8::5',
  'https://api.acme.example/v1/x',
  'https://acme.example/',
  'http://127.0.0.1/',
  'http://0x7f.1/',
  'http://[::ffff:127.0.0.1]/',
  'https://a.b.acme.example:8443/v1',
  'https://evil.example/v1/../x',
  'https://api.acme.example/v1/%2e%2e/admin',
  'http://169.254.169.254/latest',
  'https://u:p@acme.example/',
  '0.30000000000000004',
  '10.50',
  '2.5',
  '1e3',
  '',
];
const VALUE_POOL: unknown[] = [
  ...SCALARS,
  ...STRINGS,
  0.1,
  0.2,
  0.1 + 0.2,
  0.3,
  2.5,
  10.5,
  10.51,
  -0.5,
  100,
  101,
  1e21,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  [],
  ['a'],
  ['a', 'b'],
  ['b', 'c'],
  ['a', 'a'],
  [1, 2],
  ['x@acme.example'],
  [null],
  [['a']],
  { a: 1 },
  'a'.repeat(300),
];
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...VALUE_POOL),
  fc.string({ maxLength: 6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -5, max: 105 }),
  fc.array(fc.oneof(scalar, fc.constantFrom(...STRINGS)), { maxLength: 4 }),
);

const uniq = <T>(xs: T[]) => [...new Set(xs)];
const scalars = fc.array(scalar, { minLength: 1, maxLength: 4 }).map(uniq);
const intBound = fc.option(fc.integer({ min: -2, max: 105 }), { nil: undefined });
const decBound = fc.option(fc.constantFrom(...DECIMALS), { nil: undefined });
const lenBound = fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined });

/** Leaf kinds with small domains, so parent/child pairs are often comparable. */
const leaf: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  scalar.map((v) => ({ type: 'exact', value: v })),
  scalars.map((values) => ({ type: 'oneOf', values })),
  scalars.map((values) => ({ type: 'notOneOf', values })),
  fc
    .tuple(intBound, intBound)
    .filter(([a, b]) => (a !== undefined || b !== undefined) && (a === undefined || b === undefined || a <= b))
    .map(([min, max]) => ({ type: 'range', min, max })),
  fc
    .tuple(decBound, decBound)
    .filter(([a, b]) => (a !== undefined || b !== undefined) && (a === undefined || b === undefined || Number(a) <= Number(b)))
    .map(([min, max]) => ({ type: 'decimal', min, max })),
  fc
    .tuple(lenBound, lenBound)
    .filter(([a, b]) => (a !== undefined || b !== undefined) && (a === undefined || b === undefined || a <= b))
    .map(([min, max]) => ({ type: 'length', min, max })),
  fc.constantFrom('a*', 'ab*', '*@acme.example', 'a?', 'INV-*', '*', 'ab', '/srv/*').map((pattern) => ({ type: 'glob', pattern })),
  fc.constantFrom('a', 'ab', 'INV-', '/srv/', 'x').map((prefix) => ({ type: 'prefix', prefix })),
  fc.constantFrom('/', '/srv', '/srv/a').map((path) => ({ type: 'pathUnder', path })),
  scalars.map((values) => ({ type: 'subset', values })),
  scalars.map((values) => ({ type: 'contains', values })),
  fc.constantFrom('10.0.0.0/8', '10.0.0.0/24', '192.168.0.0/16', '0.0.0.0/0', '::/0', 'fe80::/10', '2001:db8::/32').map((cidr) => ({ type: 'cidr', cidr })),
  fc
    .record({
      scheme: fc.option(fc.constantFrom('https', 'http'), { nil: undefined }),
      host: fc.option(fc.constantFrom('acme.example', '*.acme.example', 'api.acme.example', '*.b.acme.example', '127.0.0.1'), { nil: undefined }),
      port: fc.option(fc.constantFrom(443, 8443), { nil: undefined }),
      path: fc.option(fc.constantFrom('/', '/v1', '/v1/x'), { nil: undefined }),
    })
    .filter((r) => Object.values(r).some((x) => x !== undefined))
    .map((r) => ({ type: 'url', ...r })),
  fc.constant({ type: 'urlSafe' }),
  fc.constantFrom('a+', 'a+b?', '[a-c]{1,3}', '(a|b)*', 'INV-\\d+', '[^@]+@acme\\.example').map((pattern) => ({ type: 'regex', pattern })),
);
const strip = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const constraintArb: fc.Arbitrary<Record<string, unknown>> = fc
  .letrec((tie) => ({
    c: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      leaf,
      leaf,
      tie('c').map((constraint) => ({ type: 'each', constraint })),
      tie('c').map((constraint) => ({ type: 'not', constraint })),
      fc.array(tie('c'), { minLength: 2, maxLength: 3 }).map((constraints) => ({ type: 'all', constraints })),
      fc.array(tie('c'), { minLength: 2, maxLength: 3 }).map((constraints) => ({ type: 'anyOf', constraints })),
    ),
  }))
  .c.map(strip);

function valid(raw: Record<string, unknown>): Constraint | undefined {
  const fix = (o: Record<string, unknown>): Record<string, unknown> => {
    const s = strip(o);
    if (s.constraint) s.constraint = fix(s.constraint as Record<string, unknown>);
    if (s.constraints) s.constraints = (s.constraints as Record<string, unknown>[]).map(fix);
    return s;
  };
  try {
    return validateConstraint('x', fix(raw));
  } catch {
    return undefined;
  }
}
const validConstraint = constraintArb.map(valid).filter((c): c is Constraint => c !== undefined);

test('attenuation is sound: covers(parent, child) => every value the child admits, the parent admits', () => {
  let accepted = 0;
  fc.assert(
    fc.property(validConstraint, validConstraint, fc.array(value, { maxLength: 8 }), (p, c, extra) => {
      if (!covers(p, c)) return true;
      accepted++;
      for (const v of [...VALUE_POOL, ...extra]) {
        if (admits(c, v) && !admits(p, v)) throw new Error(`child ${JSON.stringify(c)} admits ${JSON.stringify(v)}, parent ${JSON.stringify(p)} does not`);
      }
      return true;
    }),
    { numRuns: 6000, seed: 20261202 },
  );
  assert.ok(accepted > 200, `only ${accepted} accepted pairs: the generator should produce comparable pairs`);
});

test('every constraint is covered by itself (a child may restate its parent)', () => {
  fc.assert(
    fc.property(validConstraint, (c) => {
      assert.ok(covers(c, c), JSON.stringify(c));
      return true;
    }),
    { numRuns: 1500, seed: 7 },
  );
});

test('CBOR form round-trips: encode, strict decode, same constraint (version 2)', () => {
  fc.assert(
    fc.property(validConstraint, (c) => {
      const bytes = encode(encodeConstraints({ 'a.b[]': c }));
      const back = decodeConstraints(decodeStrict(bytes), 2);
      assert.deepEqual(JSON.parse(JSON.stringify(back['a.b[]'])), JSON.parse(JSON.stringify(c)));
      assert.equal(Buffer.from(encode(encodeConstraints(back))).toString('hex'), Buffer.from(bytes).toString('hex'));
      return true;
    }),
    { numRuns: 3000, seed: 11 },
  );
});

test('a version-1 grant refuses the version-2 kinds and argument paths when decoded', () => {
  const bytes = encode(encodeConstraints({ x: { type: 'notOneOf', values: ['a'] } }));
  assert.throws(
    () => decodeConstraints(decodeStrict(bytes), 1),
    (e: Error & { code?: string }) => e.code === 'ERR_MALFORMED',
  );
  const path = encode(encodeConstraints({ 'a[]': { type: 'exact', value: 1 } }));
  assert.throws(
    () => decodeConstraints(decodeStrict(path), 1),
    (e: Error & { code?: string }) => e.code === 'ERR_MALFORMED',
  );
});
