/**
 * Findings of the security review of sessions, the bloom-only revocation
 * form and approvals (one test per finding; each failed before its fix).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { SessionTable } from '../../src/verify/session-table.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { BloomRevocationState } from '../../src/revocation/bloom-state.ts';
import { buildBloomForm, bloomSize } from '../../src/revocation/bloom.ts';
import type { Token } from '../../src/token/token.ts';
import { decisionToJson } from '../../src/remote/wire.ts';
import { ApprovalRequiredError } from '../../src/errors.ts';
import { createVerifyService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';

const now = () => Math.floor(Date.now() / 1000);
const authority = generateKey();
const holder = generateKey();
const service = generateKey();

/** A signed compact form whose filter has every bit set: every block id is a (false-positive) hit to confirm. */
function allOnes(version: number) {
  const { bits, hashes } = bloomSize(1000);
  return buildBloomForm(
    { version, iat: now(), count: 1000, bloom: { bits, hashes, filter: new Uint8Array(bits / 8).fill(0xff) }, subjects: [], cutoffs: [] },
    authority,
  );
}

async function openSession(table: SessionTable, token: Token): Promise<ClientSession> {
  const n = table.nonce('review');
  const p = beginSession(token, holder, { serviceKey: service.publicKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  return p.finish(o.reply, o.signature);
}

const call = (i: number) => ({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `r-${i}` });

test('session finding 1: a session call whose revocation check is asynchronous (bloom filter hit) waits for it: confirmed revoked is ERR_REVOKED, never an allow', async () => {
  const token = issueToken({
    key: authority,
    subject: 'agent:s',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  let revoked = false;
  let asked = 0;
  const state = new BloomRevocationState({
    trusted: [authority.publicKey],
    confirmTtl: 0,
    confirm: async (ids) => {
      asked++;
      return { revoked: revoked ? [...ids] : [] };
    },
  });
  state.update(allOnes(1).bytes);
  const table = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey], revocation: state }), signer: keySigner(service) });
  const s = await openSession(table, token);

  // Not revoked: the hit is confirmed as a false positive, and the call is allowed with its grant.
  const ok = s.seal(call(1));
  const d1 = await table.check(ok.envelope);
  assert.equal(d1.allowed, true);
  assert.ok(d1.allowed && d1.grant.resource === 'tickets://acme/*', 'an allow names the grant that authorised it');
  assert.equal(s.open(ok, table.answer(ok.envelope, JSON.stringify(decisionToJson(d1)))).allowed, true);

  // Revoked after the session was opened: the service confirms the hit, the call is denied and the session ends.
  revoked = true;
  const bad = s.seal(call(2));
  const d2 = await table.check(bad.envelope);
  assert.equal(d2.allowed, false);
  assert.equal(!d2.allowed && d2.code, 'ERR_REVOKED');
  table.answer(bad.envelope, JSON.stringify({ allowed: false, code: 'ERR_REVOKED', reason: 'revoked' }));
  const after = await table.check(s.seal(call(3)).envelope);
  assert.equal(!after.allowed && after.code, 'ERR_SESSION_UNKNOWN');
  assert.ok(asked >= 2);

  // The service cannot confirm: denied as unavailable (fail closed), never allowed.
  const table2 = new SessionTable({
    verifier: new Verifier({
      trusted: [authority.publicKey],
      revocation: new BloomRevocationState({
        trusted: [authority.publicKey],
        confirmTtl: 0,
        confirm: (() => {
          let first = true;
          return async () => {
            if (first) return ((first = false), { revoked: [] });
            throw new Error('service down');
          };
        })(),
      }),
    }),
    signer: keySigner(service),
  });
  (table2.verifier.revocation as BloomRevocationState).update(allOnes(1).bytes);
  const s2 = await openSession(table2, token);
  const d3 = await table2.check(s2.seal(call(4)).envelope);
  assert.equal(!d3.allowed && d3.code, 'ERR_UNAVAILABLE');
});

test('session finding 2: session calls run the rules with the verifier’s limit store and backend, as a signed call does (rate limits charged, approval gates give ERR_APPROVAL_REQUIRED)', async () => {
  const approver = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:s',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [
      { resource: 'tickets://acme/*', permissions: ['read'], rate: { calls: 2, per: '1h' } },
      { resource: 'mail://outbox/*', permissions: ['send'], approval: { approvers: [formatPublicKey(approver.publicKey)], threshold: 1 } },
    ],
  });
  const table = new SessionTable({ verifier: new Verifier({ trusted: [authority.publicKey] }), signer: keySigner(service) });
  const s = await openSession(table, token);
  const codes: (string | true)[] = [];
  for (let i = 1; i <= 3; i++) {
    const d = await table.check(s.seal(call(i)).envelope);
    codes.push(d.allowed ? true : d.code);
  }
  assert.deepEqual(codes, [true, true, 'ERR_LIMIT']);
  const sealed = s.seal({ tool: 'send_mail', operation: 'send', resource: 'mail://outbox/1', args: { to: 'x' }, callId: 'm-1' });
  const send = await table.check(sealed.envelope);
  assert.equal(!send.allowed && send.code, 'ERR_APPROVAL_REQUIRED');
  // The client gets the gate's counts and approvers back (what the LangChain middleware builds its approval request from).
  const opened = s.open(sealed, table.answer(sealed.envelope, JSON.stringify(decisionToJson(send))));
  assert.ok(!opened.allowed && opened.error instanceof ApprovalRequiredError, 'an ApprovalRequiredError');
  assert.equal(opened.error.tip, table.verifier.verifyToken(token).tipHex);
  assert.deepEqual([opened.error.got, opened.error.need, opened.error.approvers], [0, 1, [formatPublicKey(approver.publicKey)]]);
});

test('approval finding 1: an ungated budgeted grant whose amount argument is missing does not waive another grant’s approval gate (§14: it does not match at step 11)', async () => {
  const approver = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:pay',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [
      // Small payments from a budget without approval; anything else needs an approver.
      { resource: 'pay://acct/*', permissions: ['pay'], budget: { arg: 'amount', total: '100' } },
      { resource: 'pay://acct/*', permissions: ['pay'], approval: { approvers: [formatPublicKey(approver.publicKey)], threshold: 1 } },
    ],
  });
  const verifier = new Verifier({ trusted: [authority.publicKey] });
  const pay = (args: Record<string, unknown>, callId: string) =>
    verifier.authorize(token, { tool: 'pay', operation: 'pay', resource: 'pay://acct/1', args, callId });
  // Within the budget: allowed without approval.
  assert.equal((await pay({ amount: '10' }, 'p-1')).allowed, true);
  // No amount (or one that is not a decimal): the budgeted grant does not authorise it, so the gate applies.
  for (const [i, args] of [{ to: 'x' }, { amount: 'lots' }, { amount: -5 }].entries()) {
    const d = await pay(args, `p-gate-${i}`);
    assert.equal(!d.allowed && d.code, 'ERR_APPROVAL_REQUIRED', JSON.stringify(args));
  }
});

test('session finding 1 over HTTP: POST /v1/session/calls waits for a bloom filter hit to be confirmed; a revoked token is denied through RemoteVerifier', async (t) => {
  const token = issueToken({
    key: authority,
    subject: 'agent:h',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  let revoked = false;
  const state = new BloomRevocationState({ trusted: [authority.publicKey], confirmTtl: 0, confirm: async (ids) => ({ revoked: revoked ? [...ids] : [] }) });
  state.update(allOnes(1).bytes);
  const svc = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey], revocation: state }), sessions: { signer: keySigner(service) } });
  const { url } = await svc.listen(0, '127.0.0.1');
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: formatPublicKey(service.publicKey) });
  t.after(async () => {
    await rv.close();
    await svc.close();
  });
  const d1 = await rv.verifyCall(token, call(1));
  assert.deepEqual([d1.allowed, d1.mode], [true, 'session']);
  revoked = true;
  const d2 = await rv.verifyCall(token, call(2));
  assert.deepEqual([d2.allowed, !d2.allowed && d2.code, d2.mode], [false, 'ERR_REVOKED', 'session']);
});
