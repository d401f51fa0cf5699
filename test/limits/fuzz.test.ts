/**
 * Fuzzing the limit options (grant options 3 and 4, docs/spec.md §14.1):
 * any CBOR value in a rate or budget decodes to a valid limit or is refused
 * with ERR_MALFORMED, never a crash; a decoded limit re-encodes to the same
 * bytes; API input is refused with ERR_INVALID_ARGUMENT; random amounts
 * are charged exactly or refused as a constraint failure.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { CapframeError } from '../../src/errors.ts';
import { decodeBudget, decodeRate, encodeBudget, encodeRate, checkBudget, checkRate } from '../../src/token/grant-limits.ts';
import { encode, type CborValue } from '../../src/token/cbor.ts';
import { budgetAmount } from '../../src/verify/limit-charges.ts';
import { validateGrants } from '../../src/token/block.ts';

const cbor: fc.Arbitrary<CborValue> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -5, max: 2 ** 33 }),
    fc.double(),
    fc.constantFrom('amount', '50', '0.3', '-1', '5.0', '1e3', 'a..b', 'items[].price', '', '0', '0.0000000000000000001'),
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
  ),
})).v as fc.Arbitrary<CborValue>;

const limitish: fc.Arbitrary<CborValue> = fc.oneof(
  cbor,
  fc.tuple(fc.integer({ min: -1, max: 2 ** 33 }), fc.integer({ min: -1, max: 2 ** 33 })),
  fc.tuple(fc.constantFrom('amount', 'x.y', 'a[]', '1bad'), fc.constantFrom('0', '50', '0.25', '-3', '01', '1.10'), fc.integer({ min: -1, max: 100 })),
) as fc.Arbitrary<CborValue>;

test('rate and budget decoders: a valid limit that round-trips, or ERR_MALFORMED', () => {
  fc.assert(
    fc.property(limitish, (v) => {
      for (const [dec, enc] of [
        [decodeRate, encodeRate],
        [decodeBudget, encodeBudget],
      ] as const) {
        try {
          const l = dec(v);
          assert.deepEqual(Buffer.from(encode(enc(l as never))), Buffer.from(encode(v)));
        } catch (e) {
          if (!(e instanceof CapframeError && e.code === 'ERR_MALFORMED')) throw e;
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('API limits: valid or ERR_INVALID_ARGUMENT', () => {
  const obj = fc.record({ calls: fc.anything(), per: fc.anything(), arg: fc.anything(), total: fc.anything() }, { requiredKeys: [] });
  fc.assert(
    fc.property(obj, (o) => {
      for (const f of [checkRate, checkBudget]) {
        try {
          f(o);
        } catch (e) {
          if (!(e instanceof CapframeError && e.code === 'ERR_INVALID_ARGUMENT')) throw e;
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test('amounts: any JSON value is an exact non-negative sum or a refusal, never a crash', () => {
  const [g] = validateGrants([{ resource: 'x://y/*', permissions: ['w'], budget: { arg: 'a[]', total: '1' } }]);
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const r = budgetAmount(g!, { a: v });
      if (typeof r === 'bigint') assert.ok(r >= 0n);
      else assert.equal(typeof r, 'string');
    }),
    { numRuns: 3000 },
  );
});
