/**
 * Checks every case of test/vectors/approvals.json (docs/spec.md §15.6) on
 * both crypto backends, from the JSON alone, and that the generator
 * reproduces the file byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Token, Verifier } from '../../src/index.ts';
import { nobleBackend } from '../../src/crypto/noble.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import type { Ed25519Backend } from '../../src/crypto/backend.ts';
import { ApprovalRequiredError, type CapframeError } from '../../src/errors.ts';
import { Approval, approvalSignedMessage } from '../../src/token/approval.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { APPROVAL_VECTORS_PATH, generateApprovalVectors } from '../../scripts/vectors/approvals.ts';

const fileText = readFileSync(APPROVAL_VECTORS_PATH, 'utf8');
const V = JSON.parse(fileText);
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const backends: Ed25519Backend[] = [nodeBackend(), nobleBackend()];
const tokenByName = new Map<string, { hex: string; tip: string }>(V.tokens.map((t: { name: string; hex: string; tip: string }) => [t.name, t]));
const approvalByName = new Map<string, { hex: string }>(V.approvals.map((a: { name: string; hex: string }) => [a.name, a]));

test('the generator reproduces test/vectors/approvals.json byte for byte', async () => {
  assert.equal(await generateApprovalVectors(), fileText);
});

test('vector file shape', () => {
  assert.ok(V.tokens.length >= 2 && V.tokenErrors.length >= 3 && V.grantErrors.length >= 8);
  assert.ok(V.approvals.length >= 10 && V.approvalErrors.length >= 10 && V.calls.length >= 10);
});

for (const backend of backends) {
  const verifier = (now: number) => new Verifier({ trusted: [hex(V.keys.authority.publicKey)], clock: () => now, backend });

  test(`[${backend.name}] valid tokens verify, with the listed tip`, () => {
    for (const t of V.tokens) {
      const chain = verifier(V.clock.t0).verifyToken(hex(t.hex));
      assert.equal(toHex(chain.tip), t.tip, t.name);
      assert.equal(chain.version, 2);
      assert.equal(Token.parse(t.text).toString(), t.text);
    }
  });

  test(`[${backend.name}] tokenErrors and grantErrors are refused with their code`, () => {
    for (const c of [...V.tokenErrors, ...V.grantErrors]) {
      assert.throws(
        () => verifier(V.clock.t0).verifyToken(hex(c.hex)),
        (e: CapframeError) => e.code === c.expect.code,
        c.name,
      );
    }
  });

  test(`[${backend.name}] approvals: signed message, signature and text form`, () => {
    for (const a of V.approvals) {
      const parsed = Approval.parse(hex(a.hex));
      const key = hex(V.keys[a.approver].publicKey);
      assert.deepEqual(parsed.payload.approver, key, a.name);
      const ok = backend.verify(key, approvalSignedMessage(parsed.block.payload), parsed.block.signature);
      assert.equal(ok, a.name !== 'a2-bad-signature', a.name);
      if (a.text) {
        assert.equal(Approval.parse(a.text).toString(), a.text);
        assert.equal(toHex(approvalSignedMessage(hex(a.payload))), a.signedMessage);
        assert.equal(toHex(parsed.block.signature), a.signature);
      }
    }
  });

  test(`[${backend.name}] approvalErrors are refused when decoded`, () => {
    for (const c of V.approvalErrors) {
      assert.throws(
        () => Approval.parse(c.text ?? hex(c.hex)),
        (e: CapframeError) => e.code === c.expect.code,
        c.name,
      );
    }
  });

  test(`[${backend.name}] calls: decisions and got/need`, async () => {
    for (const c of V.calls) {
      const v = verifier(c.now);
      const t = tokenByName.get(c.token)!;
      const approvals = c.approvals.map((n: string) => hex(approvalByName.get(n)!.hex));
      const d = await v.authorize(hex(t.hex), { ...c.call, approvals });
      assert.equal(d.allowed, c.expect.allowed, `${c.name}: ${d.allowed ? '' : d.reason}`);
      if (!d.allowed) {
        assert.equal(d.code, c.expect.code, c.name);
        assert.ok(d.error instanceof ApprovalRequiredError);
        assert.equal(d.error.got, c.expect.got, c.name);
        assert.equal(d.error.need, c.expect.need, c.name);
        assert.equal(d.error.tip, toHex(decodeChain(Token.parse(hex(t.hex))).tip));
      }
    }
  });
}
