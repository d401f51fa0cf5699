/**
 * The guard with a CallVerifier (a verifier that decides elsewhere): calls
 * without a proof go to verifyCall with the run's holder key, calls of
 * attested tools are signed by the guard and go to verifyInvocation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, issueToken, Invocation, Verifier, type Decision, type ExpectedCall, type LocalCall, type TokenInput } from '../../src/index.ts';
import { Guard, type CallSigner, type CallVerifier } from '../../src/langchain/index.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:cv',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});

/** A CallVerifier of one's own: decides with an in-process Verifier and records what it was given. */
class Recording implements CallVerifier {
  readonly inner = new Verifier({ trusted: [authority.publicKey] });
  readonly calls: { call: LocalCall; signer: CallSigner | undefined }[] = [];
  readonly proofs: { invocation: Invocation | string | Uint8Array; expected: ExpectedCall }[] = [];
  async verifyCall(t: TokenInput, call: LocalCall, signer?: CallSigner): Promise<Decision> {
    this.calls.push({ call, signer });
    return this.inner.authorize(t, call);
  }
  async verifyInvocation(t: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision> {
    this.proofs.push({ invocation, expected });
    return this.inner.verifyInvocation(t, invocation, expected);
  }
}

const policies = {
  get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' },
  get_signed: { resource: 'tickets://acme/{id}', operation: 'read', attested: true, proofWindow: '20s' },
};

test('a CallVerifier gets unsigned calls with the run holder key, and the proofs of attested tools', async () => {
  const v = new Recording();
  const guard = new Guard({ verifier: v, sink: null, policies });
  assert.equal(guard.verifier, v);
  const run = { configurable: { capframe: { token, holderKey: holder } } };
  const plain = await guard.check('get_ticket', { id: '1' }, 'cv-1', run);
  assert.equal(plain.allowed, true);
  assert.equal(v.calls.length, 1);
  assert.equal(v.calls[0]!.signer?.holderKey, holder);
  assert.deepEqual(v.calls[0]!.call, { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: '1' }, callId: 'cv-1' });

  const signed = await guard.check('get_signed', { id: '2' }, 'cv-2', run);
  assert.equal(signed.allowed, true);
  assert.equal(v.proofs.length, 1);
  assert.ok(v.proofs[0]!.invocation instanceof Invocation);
  assert.ok(signed.allowed && signed.context.invocation === v.proofs[0]!.invocation, 'the attested tool gets the proof that was checked');

  // No holder key in the run: the verifier decides without a signer; an attested tool is denied before it.
  const noKey = { configurable: { capframe: { token } } };
  assert.equal((await guard.check('get_ticket', { id: '3' }, 'cv-3', noKey)).allowed, true);
  assert.equal(v.calls[1]!.signer, undefined);
  const attestedNoKey = await guard.check('get_signed', { id: '4' }, 'cv-4', noKey);
  assert.equal(!attestedNoKey.allowed && attestedNoKey.code, 'ERR_MISSING_TOKEN');
  assert.equal(v.proofs.length, 1);
});

test('attestAll with a CallVerifier: every call needs the holder key and goes to verifyCall with it', async () => {
  const v = new Recording();
  const guard = new Guard({ verifier: v, sink: null, policies, attestAll: true });
  const r = await guard.check('get_ticket', { id: '5' }, 'aa-1', { configurable: { capframe: { token } } });
  assert.equal(!r.allowed && r.code, 'ERR_MISSING_TOKEN');
  assert.equal(v.calls.length, 0);
  const ok = await guard.check('get_ticket', { id: '5' }, 'aa-2', { configurable: { capframe: { token, holderKey: holder } } });
  assert.equal(ok.allowed, true);
  assert.equal(v.calls[0]!.signer?.holderKey, holder);
});

test('attestAll with a Verifier: the guard signs every call (the decision is a signed one)', async () => {
  const guard = new Guard({ verifier: new Verifier({ trusted: [authority.publicKey] }), sink: null, policies, attestAll: true });
  const r = await guard.check('get_ticket', { id: '6' }, 'lv-1', { configurable: { capframe: { token, holderKey: holder } } });
  assert.ok(r.allowed);
  assert.equal(r.context.decision.mode, 'signed');
  assert.ok(r.context.invocation instanceof Invocation);
});
