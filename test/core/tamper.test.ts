/**
 * Tamper: flip every single bit of a valid 2-block token and of an invocation
 * proof. None verifies; each gives a typed denial; the warm verified-link and
 * chain caches never make a tampered block pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError } from '../../src/errors.ts';
import { createInvocation, type Decision, type Verifier } from '../../src/index.ts';
import { BOB, ERROR_CODES, assertAllowed, flip, twoBlockFixture, verifier } from './helpers.ts';

const { clock, token, CALL } = twoBlockFixture();

/** Never-seen replay store: so that a replay denial can never hide an accept. */
const noReplay = { checkAndRecord: () => true };

function expectDenied(d: Decision, allowedCodes: ReadonlySet<string>, what: string, tally: Map<string, number>): void {
  if (d.allowed) assert.fail(`${what}: a tampered input was ALLOWED`);
  assert.ok(d.error instanceof CapframeError, `${what}: not a CapframeError`);
  assert.ok(ERROR_CODES.has(d.code), `${what}: unknown code ${d.code}`);
  assert.ok(allowedCodes.has(d.code), `${what}: unexpected ${d.code}: ${d.reason}`);
  tally.set(d.code, (tally.get(d.code) ?? 0) + 1);
}

const TOKEN_CODES = new Set(['ERR_MALFORMED', 'ERR_SIGNATURE_INVALID', 'ERR_UNKNOWN_KEY', 'ERR_DEPTH', 'ERR_TOO_LARGE']);

test(`every single-bit flip of a 2-block token (${token.bytes.length} bytes) is denied, with warm caches`, async () => {
  const v: Verifier = verifier({ replay: noReplay });
  // warm every cache with the valid token
  assertAllowed(await v.authorize(token, { ...CALL, callId: 'warm' }));
  assertAllowed(await v.authorize(token.bytes, { ...CALL, callId: 'warm' }));
  const tally = new Map<string, number>();
  for (let bit = 0; bit < token.bytes.length * 8; bit++) {
    const bad = flip(token.bytes, bit);
    expectDenied(await v.authorize(bad, { ...CALL, callId: 'c' }), TOKEN_CODES, `bit ${bit}`, tally);
  }
  // the flips in signed bytes reach the signature check and fail there
  assert.ok((tally.get('ERR_SIGNATURE_INVALID') ?? 0) > token.bytes.length * 4, JSON.stringify([...tally]));
  assert.ok((tally.get('ERR_UNKNOWN_KEY') ?? 0) >= 60, 'flips in the kid name an unknown key');
  // and the valid token still verifies afterwards: nothing was poisoned
  assertAllowed(await v.authorize(token, { ...CALL, callId: 'after' }));
});

test('every single-bit flip of the token is denied with caches cleared before each case', async () => {
  const v = verifier({ replay: noReplay });
  const tally = new Map<string, number>();
  for (let bit = 0; bit < token.bytes.length * 8; bit++) {
    v.clearCaches();
    expectDenied(await v.authorize(flip(token.bytes, bit), { ...CALL, callId: 'c' }), TOKEN_CODES, `bit ${bit}`, tally);
  }
  assertAllowed(await v.authorize(token, { ...CALL, callId: 'after' }));
});

test('every single-bit flip of the token is denied on the signed path, with a valid proof for the original', async () => {
  const v = verifier({ replay: noReplay });
  const proof = createInvocation(token, { key: BOB, ...CALL, clock });
  assertAllowed(await v.verifyInvocation(token, proof, { tool: CALL.tool, args: CALL.args }));
  const tally = new Map<string, number>();
  for (let bit = 0; bit < token.bytes.length * 8; bit++) {
    expectDenied(await v.verifyInvocation(flip(token.bytes, bit), proof, { tool: CALL.tool, args: CALL.args }), TOKEN_CODES, `bit ${bit}`, tally);
  }
});

test('every single-bit flip of an invocation proof is denied (ERR_MALFORMED or ERR_SIGNATURE_INVALID)', async () => {
  const v = verifier({ replay: noReplay });
  const proof = createInvocation(token, { key: BOB, ...CALL, clock, callId: 'tamper-1' });
  const expected = { tool: CALL.tool, args: CALL.args };
  assertAllowed(await v.verifyInvocation(token, proof, expected));
  const codes = new Set(['ERR_MALFORMED', 'ERR_SIGNATURE_INVALID', 'ERR_TOO_LARGE']);
  const tally = new Map<string, number>();
  for (let bit = 0; bit < proof.bytes.length * 8; bit++) {
    expectDenied(await v.verifyInvocation(token, flip(proof.bytes, bit), expected), codes, `bit ${bit}`, tally);
  }
  assert.ok((tally.get('ERR_SIGNATURE_INVALID') ?? 0) > (proof.bytes.length - 3) * 8 - 16, JSON.stringify([...tally]));
});

test('every one-character change of the text forms is denied', async () => {
  const v = verifier({ replay: noReplay });
  const proof = createInvocation(token, { key: BOB, ...CALL, clock });
  const expected = { tool: CALL.tool, args: CALL.args };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const tally = new Map<string, number>();
  const t = token.toString();
  const p = proof.toString();
  for (let i = 0; i < t.length; i++) {
    const c = alphabet[(alphabet.indexOf(t[i]!) + 1 + (i % 63)) % 64] ?? 'A';
    const bad = t.slice(0, i) + (c === t[i] ? '.' : c) + t.slice(i + 1);
    expectDenied(await v.authorize(bad, { ...CALL, callId: 'c' }), TOKEN_CODES, `token char ${i}`, tally);
  }
  for (let i = 0; i < p.length; i++) {
    const c = alphabet[(alphabet.indexOf(p[i]!) + 1 + (i % 63)) % 64] ?? 'A';
    const bad = p.slice(0, i) + (c === p[i] ? '.' : c) + p.slice(i + 1);
    expectDenied(await v.verifyInvocation(token, bad, expected), TOKEN_CODES, `proof char ${i}`, tally);
  }
});
