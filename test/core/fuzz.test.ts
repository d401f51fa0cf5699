/**
 * Property-based malformed-input tests (fast-check), 11,000 cases in total:
 * arbitrary bytes, mutated valid tokens, mutated valid invocation proofs,
 * random text forms and signed random payloads go through Token.parse,
 * Invocation.parse, inspect, Verifier.authorize and verifyInvocation. The
 * outcome is always a typed CapframeError (known code, never ERR_INTERNAL) or a
 * denial; never a crash; never an accept of a mutated token or proof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CapframeError } from '../../src/errors.ts';
import { createInvocation, inspect, Invocation, Token, type Decision } from '../../src/index.ts';
import { encode, type CborValue } from '../../src/token/cbor.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { ALICE, AUTH, BOB, ERROR_CODES, T0, craftRoot, twoBlockFixture, verifier } from './helpers.ts';

const { clock, root, token, CALL } = twoBlockFixture();
const EXPECTED = { tool: CALL.tool, args: CALL.args };
const proof = createInvocation(token, { key: BOB, ...CALL, clock, callId: 'fuzz-proof' });
// Never-seen replay store: a replay denial must not be what stops a forged input.
const v = verifier({ replay: { checkAndRecord: () => true } });
const VALID_TOKENS = [root.bytes, token.bytes].map((b) => Buffer.from(b).toString('hex'));

function typed(e: unknown, what: string): CapframeError {
  if (!(e instanceof CapframeError)) assert.fail(`${what}: threw a non-CapframeError: ${String(e)}`);
  assert.ok(ERROR_CODES.has(e.code), `${what}: unknown code ${e.code}`);
  assert.notEqual(e.code, 'ERR_INTERNAL', `${what}: ERR_INTERNAL: ${e.message}`);
  return e;
}
function syncOutcome(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    typed(e, what);
  }
}
function denial(d: Decision, what: string): void {
  assert.equal(d.allowed, false, `${what}: accepted`);
  if (!d.allowed) typed(d.error, what);
  if (!d.allowed) assert.equal(d.code, d.error.code);
}
function outcome(d: Decision, what: string): void {
  if (!d.allowed) typed(d.error, what);
}

/** The binary form of an input that parses (so a no-op mutation of a text form is recognised), else empty. */
function parsedBytes(fn: () => Uint8Array): Uint8Array {
  try {
    return fn();
  } catch {
    return new Uint8Array(0);
  }
}

/** Feeds one input everywhere; `mustDeny` unless it equals a valid token. */
async function feedToken(bytes: Uint8Array | string, what: string): Promise<void> {
  syncOutcome(() => Token.parse(bytes), `${what} Token.parse`);
  syncOutcome(() => inspect(bytes), `${what} inspect`);
  const same = VALID_TOKENS.includes(Buffer.from(parsedBytes(() => Token.parse(bytes).bytes)).toString('hex'));
  const a = await v.authorize(bytes, { ...CALL, callId: 'fz' });
  const s = await v.verifyInvocation(bytes, proof, EXPECTED);
  if (same) {
    outcome(a, what);
    outcome(s, what);
  } else {
    denial(a, `${what} authorize`);
    denial(s, `${what} verifyInvocation`);
  }
}
async function feedProof(bytes: Uint8Array | string, what: string): Promise<void> {
  syncOutcome(() => Invocation.parse(bytes), `${what} Invocation.parse`);
  const same = Buffer.from(parsedBytes(() => Invocation.parse(bytes).bytes)).equals(Buffer.from(proof.bytes));
  const d = await v.verifyInvocation(token, bytes, EXPECTED);
  if (same) outcome(d, what);
  else denial(d, `${what} verifyInvocation(proof)`);
}

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'set'; pos: number; val: number }
  | { kind: 'insert'; pos: number; bytes: Uint8Array }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'truncate'; pos: number }
  | { kind: 'dup'; pos: number; len: number }
  | { kind: 'swap'; a: number; b: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), val: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
);

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Array.from(input);
  for (const m of ms) {
    const n = Math.max(b.length, 1);
    switch (m.kind) {
      case 'flip':
        if (b.length) b[m.pos % n]! ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[m.pos % n] = m.val;
        break;
      case 'insert':
        b.splice(m.pos % (b.length + 1), 0, ...m.bytes);
        break;
      case 'delete':
        b.splice(m.pos % n, m.len);
        break;
      case 'truncate':
        b = b.slice(0, m.pos % n);
        break;
      case 'dup': {
        const at = m.pos % n;
        b.splice(at, 0, ...b.slice(at, at + m.len));
        break;
      }
      case 'swap':
        if (b.length) {
          const i = m.a % n,
            j = m.b % n;
          [b[i], b[j]] = [b[j]!, b[i]!];
        }
        break;
    }
  }
  return new Uint8Array(b);
}

test('arbitrary bytes (3,000 cases): typed errors or denials everywhere', async () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    // CBOR-array-looking prefixes get past the cheap structural check
    fc.tuple(fc.integer({ min: 0x80, max: 0x9f }), fc.uint8Array({ maxLength: 400 })).map(([h, r]) => new Uint8Array([h, ...r])),
    fc.tuple(fc.constantFrom(0x83, 0x82), fc.uint8Array({ minLength: 0, maxLength: 300 })).map(([h, r]) => new Uint8Array([h, 0x48, ...AUTH.kid, ...r])),
  );
  await fc.assert(
    fc.asyncProperty(bytes, async (b) => {
      await feedToken(b, 'bytes');
      await feedProof(b, 'bytes');
    }),
    { numRuns: 3000 },
  );
});

test('mutated valid tokens (3,000 cases): never accepted', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
      await feedToken(mutate(token.bytes, ms), `mutations ${JSON.stringify(ms)}`);
    }),
    { numRuns: 3000 },
  );
});

test('mutated valid invocation proofs (2,500 cases): never accepted', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
      await feedProof(mutate(proof.bytes, ms), `mutations ${JSON.stringify(ms)}`);
    }),
    { numRuns: 2500 },
  );
});

test('random text forms (1,500 cases): typed errors or denials', async () => {
  const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 300 });
  const text = fc.oneof(
    b64.map((s) => 'cft1.' + s),
    b64.map((s) => 'cfi1.' + s),
    fc.uint8Array({ maxLength: 300 }).map((b) => 'cft1.' + encodeBase64url(b)),
    fc.uint8Array({ maxLength: 300 }).map((b) => 'cfi1.' + encodeBase64url(b)),
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 100 }).map((s) => 'cft1.' + s),
    fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => 'cft1.' + encodeBase64url(mutate(token.bytes, ms))),
  );
  await fc.assert(
    fc.asyncProperty(text, async (t) => {
      await feedToken(t, `text ${JSON.stringify(t.slice(0, 40))}`);
      await feedProof(t, `text ${JSON.stringify(t.slice(0, 40))}`);
    }),
    { numRuns: 1500 },
  );
});

test('signed root payloads with a random field (1,000 cases): never a crash, never ERR_INTERNAL', async () => {
  const { value } = fc.letrec<{ value: CborValue; map: CborValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.integer(),
      fc.maxSafeInteger(),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom<CborValue>('database://users/*', 'database://**', 'read', T0, T0 + 60, 0, 255, 256),
      fc.array(tie('value'), { maxLength: 4 }),
      tie('map'),
    ),
    map: fc
      .array(fc.tuple(fc.oneof(fc.integer({ min: -2, max: 10 }), fc.string({ maxLength: 4 })), tie('value')), { maxLength: 4 })
      .map((es) => new Map<number | string, CborValue>(es)),
  }));
  const seen = new Map<string, number>();
  const field = fc.tuple(fc.integer({ min: 0, max: 10 }), fc.option(value, { nil: undefined }));
  await fc.assert(
    fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 3 }), async (fields) => {
      const m = new Map<number, CborValue>([
        [1, new Uint8Array(randomBytes(16))],
        [2, 'agent:alice'],
        [3, ALICE.publicKey],
        [4, [['database://users/*', ['read']]]],
        [5, T0],
        [7, T0 + 3600],
        [8, 1],
        [9, 1],
      ]);
      for (const [k, val] of fields)
        if (val === undefined) m.delete(k);
        else m.set(k, val);
      let payload: Uint8Array;
      try {
        payload = encode(m);
      } catch (e) {
        typed(e, 'encode'); // too deep for the encoder: fine
        return;
      }
      const t = craftRoot(AUTH, payload);
      syncOutcome(() => inspect(t), 'inspect');
      const d = await v.authorize(t, { ...CALL, callId: 'fz' });
      outcome(d, `fields ${String(fields.map((f) => f[0]))}`);
      seen.set(d.allowed ? 'allowed' : d.code, (seen.get(d.allowed ? 'allowed' : d.code) ?? 0) + 1);
    }),
    { numRuns: 1000 },
  );
  // not degenerate: the generator reaches both valid payloads and the strict decoder
  assert.ok((seen.get('allowed') ?? 0) > 0 && (seen.get('ERR_MALFORMED') ?? 0) > 0, JSON.stringify([...seen]));
});

test('sanity: the unmutated inputs are accepted by the same verifier', async () => {
  assert.equal((await v.authorize(token, { ...CALL, callId: 'ok' })).allowed, true);
  assert.equal((await v.verifyInvocation(token, proof, EXPECTED)).allowed, true);
});
