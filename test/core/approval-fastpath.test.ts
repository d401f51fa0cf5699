/**
 * The approval payload reader that skips the general decoder accepts only
 * bytes the strict decoder accepts, with the same values (docs/spec.md §2:
 * both must accept the same set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeApprovalPayload, readApprovalFields } from '../../src/token/approval.ts';
import { decodeStrict, type CborValue } from '../../src/token/cbor.ts';
import { flip } from './helpers.ts';

function strict(b: Uint8Array): Map<CborValue, CborValue> | undefined {
  try {
    const m = decodeStrict(b);
    return m instanceof Map ? (m as Map<CborValue, CborValue>) : undefined;
  } catch {
    return undefined;
  }
}

function agrees(b: Uint8Array): boolean {
  const fast = readApprovalFields(b);
  if (!fast) return true; // the general path decides
  const m = strict(b);
  if (!m || m.size !== 9) return false;
  for (let k = 1; k <= 9; k++) {
    const a = fast[k];
    const g = m.get(k);
    if (a instanceof Uint8Array) {
      if (!(g instanceof Uint8Array) || !Buffer.from(a).equals(g)) return false;
    } else if (a !== g) return false;
  }
  return true;
}

const payload = fc.record({
  tip: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  tool: fc.string({ unit: 'binary', maxLength: 300 }),
  operation: fc.string({ maxLength: 30 }),
  resource: fc.string({ unit: 'grapheme', maxLength: 300 }),
  args: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  callId: fc.string({ maxLength: 40 }),
  approver: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  iat: fc.oneof(fc.nat({ max: 30 }), fc.nat({ max: 0xffffffff })),
  exp: fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffffffff }), fc.maxSafeNat()),
});

test('well-formed payloads: the fast reader gives exactly the strict decoder’s fields', () => {
  fc.assert(
    fc.property(payload, (p) => {
      const b = encodeApprovalPayload(p);
      const fast = readApprovalFields(b);
      // Only 8-byte integers are left to the general path.
      if (p.exp <= 0xffffffff) assert.ok(fast, 'the fast reader reads what the encoder writes');
      return agrees(b);
    }),
    { numRuns: 3000 },
  );
});

test('mutated, truncated and extended payloads: never accepted by the fast reader alone', () => {
  fc.assert(
    fc.property(payload, fc.nat(), fc.integer({ min: 0, max: 2 }), (p, r, mode) => {
      const b = encodeApprovalPayload(p);
      const m = mode === 0 ? flip(b, r % (b.length * 8)) : mode === 1 ? b.subarray(0, r % b.length) : Uint8Array.from([...b, r & 255]);
      return agrees(m);
    }),
    { numRuns: 6000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => agrees(Uint8Array.from([0xa9, ...tail]))),
    { numRuns: 3000 },
  );
});
