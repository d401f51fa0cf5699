/**
 * Property tests for the decoders outside the token core (which has its own,
 * test/core/fuzz.test.ts): revocation snapshots, batched invocation proofs
 * and the YAML config. Every input ends in a typed CapframeError or a valid
 * result, never a crash, and a mutated signed object is never accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CapframeError } from '../../src/errors.ts';
import { createInvocationBatch } from '../../src/holder/invoke.ts';
import { generateKey, issueToken, Keyring, Verifier } from '../../src/index.ts';
import { buildSnapshot, parseSnapshot } from '../../src/revocation/index.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { flip } from '../core/helpers.ts';

const isTyped = (e: unknown) => e instanceof CapframeError && /^ERR_[A-Z_]+$/.test(e.code);

test('revocation snapshots: random bytes and single-bit mutations are refused with typed errors', () => {
  const authority = generateKey();
  const keyring = new Keyring([authority.publicKey]);
  const ids = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j) & 255));
  const snap = buildSnapshot({ version: 3, iat: 1_767_225_600, ids, subjects: ['agent:x'], cutoffs: [] } as never, authority);
  const good = snap.bytes;
  assert.equal(parseSnapshot(good, keyring, { now: 1_767_225_600 }).version, 3);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        parseSnapshot(bytes, keyring, { now: 1_767_225_600 });
        return false; // random bytes never make a signed snapshot
      } catch (e) {
        return isTyped(e);
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat({ max: good.length * 8 - 1 }), (bit) => {
      try {
        parseSnapshot(flip(good, bit), keyring, { now: 1_767_225_600 });
        return false;
      } catch (e) {
        return isTyped(e);
      }
    }),
    { numRuns: 2000 },
  );
});

test('batched invocation proofs: single-bit mutations never verify', async () => {
  const authority = generateKey();
  const agent = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:a',
    holder: agent.publicKey,
    grants: [{ resource: 'db://t/*', permissions: ['read'] }],
    ttl: '1h',
  });
  const calls = [1, 2, 3].map((i) => ({ tool: 'get', operation: 'read', resource: `db://t/${i}`, args: { i }, callId: `c${i}` }));
  const proofs = createInvocationBatch(token, agent, calls);
  const bytes = proofs[1]!.bytes;
  const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 100_000 });
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: bytes.length * 8 - 1 }), async (bit) => {
      const d = await verifier.verifyInvocation(token, flip(bytes, bit), { tool: 'get', args: { i: 2 } });
      n++;
      return !d.allowed && isTyped(d.error);
    }),
    { numRuns: Math.min(1500, bytes.length * 8) },
  );
  assert.ok(n > 0);
  const ok = await verifier.verifyInvocation(token, bytes, { tool: 'get', args: { i: 2 } });
  assert.equal(ok.allowed, true, 'the unmodified proof still verifies');
});

test('config: arbitrary YAML-ish text gives a config or ERR_CONFIG, never another failure', () => {
  const chunk = fc.constantFrom(
    'trust:\n',
    '  authorities:\n',
    '    - cfk1.AAAA\n',
    'tools:\n',
    '  t:\n',
    '    resource: a://{x}\n',
    '    operation: read\n',
    '    attested: maybe\n',
    'audit:\n  sink: jsonl\n',
    '&a [*a]\n',
    '{',
    '}',
    ': :\n',
    '\t',
    '"\\u0000"\n',
    'version: 2\n',
    '- - -\n',
  );
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 12 }), fc.string({ maxLength: 20 }), (parts, noise) => {
      try {
        parseConfig(parts.join('') + noise, { env: {} });
        return true;
      } catch (e) {
        return e instanceof CapframeError && e.code === 'ERR_CONFIG';
      }
    }),
    { numRuns: 2000 },
  );
});
