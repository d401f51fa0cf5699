/**
 * Property tests for approvals (docs/spec.md §15): the approval decoder,
 * grant option 5 and the approval request parser end every input in a
 * typed CapframeError or a valid result, and a mutated approval never
 * counts toward a gate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CapframeError } from '../../src/errors.ts';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { signApproval } from '../../src/authority/approve.ts';
import { Approval, decodeApprovalGate, decodeApprovalPayload } from '../../src/token/approval.ts';
import { parseApprovalRequest } from '../../src/token/approval-request.ts';
import { decodeStrict } from '../../src/token/cbor.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { flip } from '../core/helpers.ts';

const isTyped = (e: unknown) => e instanceof CapframeError && /^ERR_[A-Z_]+$/.test(e.code);
const typedOrOk = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (e) {
    return isTyped(e);
  }
};

const authority = generateKey();
const agent = generateKey();
const approvers = [generateKey(), generateKey()];
const token = issueToken({
  key: authority,
  subject: 'agent:fuzz',
  holder: agent.publicKey,
  grants: [{ resource: 'mail://outbox/*', permissions: ['send'], approval: { approvers: approvers.map((k) => formatPublicKey(k.publicKey)), threshold: 2 } }],
  ttl: '1h',
});
const call = { tool: 'send_email', operation: 'send', resource: 'mail://outbox/bob', args: { to: 'bob' }, callId: 'fz-1' };
const tip = decodeChain(token).tip;

test('approval decoder: random bytes and random text are refused with typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => typedOrOk(() => Approval.parse(bytes))),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => typedOrOk(() => Approval.parse('cfa1.' + s))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => typedOrOk(() => decodeApprovalPayload(bytes))),
    { numRuns: 2000 },
  );
});

test('grant option 5 decoder: random CBOR values are refused with typed errors or give a well-formed gate', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) =>
      typedOrOk(() => {
        const g = decodeApprovalGate(decodeStrict(bytes));
        assert.ok(g.threshold >= 1 && g.threshold <= g.approvers.length);
      }),
    ),
    { numRuns: 3000 },
  );
});

test('approval request parser: random JSON is refused with typed errors', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => typedOrOk(() => parseApprovalRequest(v))),
    { numRuns: 2000 },
  );
});

test('single-bit mutations of a valid approval never count (the gate stays at 1 of 2)', async () => {
  const good = await signApproval(keySigner(approvers[0]!), { tip, ...call });
  const other = (await signApproval(keySigner(approvers[1]!), { tip, ...call })).bytes;
  const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 100 });
  const base = await verifier.authorize(token, { ...call, approvals: [good.bytes, other] });
  assert.equal(base.allowed, true);
  // Asynchronous property: every bit of the approval, each a fresh verifier.
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: good.bytes.length * 8 - 1 }), async (bit) => {
      const v = new Verifier({ trusted: [authority.publicKey] });
      const x = await v.authorize(token, { ...call, approvals: [flip(good.bytes, bit), other] });
      // Either the mutation broke it (1 of 2), or it decodes to the very same approval (impossible for a bit flip of signed bytes).
      return !x.allowed && x.code === 'ERR_APPROVAL_REQUIRED' && (x.error as { got?: number }).got === 1;
    }),
    { numRuns: 1500 },
  );
});
