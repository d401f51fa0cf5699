/**
 * Approvals over real HTTP: they travel with a call to POST /v1/verify and
 * /v1/verify/batch (RemoteVerifier), the denial carries got/need, and the
 * service collects approvals for a UI (POST/GET /v1/approvals, bounded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { signApproval } from '../../src/authority/approve.ts';
import { ApprovalRequiredError } from '../../src/errors.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { argsDigestHex } from '../../src/token/args.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { ApprovalInbox, createVerifyService } from '../../src/server/index.ts';

const authority = generateKey();
const agent = generateKey();
const approvers = [generateKey(), generateKey(), generateKey()];
const outsider = generateKey();
const ADMIN = 'admin-secret-for-approvals-test';
const token = issueToken({
  key: authority,
  subject: 'agent:mailer',
  holder: agent.publicKey,
  grants: [
    {
      resource: 'mail://outbox/*',
      permissions: ['send'],
      tools: ['send_email'],
      approval: { approvers: approvers.map((k) => formatPublicKey(k.publicKey)), threshold: 2 },
    },
  ],
  ttl: '1h',
});
const tip = toHex(decodeChain(token).tip);
const ARGS = { to: 'bob', subject: 'Q3' };
const call = (callId: string) => ({ tool: 'send_email', operation: 'send', resource: 'mail://outbox/bob', args: ARGS, callId });
const sign = (k: (typeof approvers)[number], callId: string) => signApproval(keySigner(k), { tip, ...call(callId) }).then(String);

async function withService(maxPending: number, fn: (url: string) => Promise<void>) {
  const verifier = new Verifier({ trusted: [authority.publicKey] });
  const inbox = new ApprovalInbox({ backend: verifier.backend, clock: verifier.clock, maxPending });
  const service = createVerifyService({ verifier, adminSecret: ADMIN, approvals: inbox });
  const { url } = await service.listen(0);
  try {
    await fn(url);
  } finally {
    await service.close();
  }
}

test('remote: approvals travel with the call; the denial carries got/need; two distinct approvals allow it', async () => {
  await withService(8, async (url) => {
    const remote = new RemoteVerifier({ url, holderKey: agent, batch: false });
    try {
      const none = await remote.verifyCall(token, call('r-1'));
      assert.equal(none.allowed, false);
      assert.ok(!none.allowed && none.error instanceof ApprovalRequiredError);
      assert.deepEqual([none.error.got, none.error.need, none.error.tip, none.error.approvers.length], [0, 2, tip, 3]);
      const one = await remote.verifyCall(token, { ...call('r-1'), approvals: [await sign(approvers[0]!, 'r-1')] });
      assert.ok(!one.allowed && one.error instanceof ApprovalRequiredError && one.error.got === 1);
      const two = await remote.verifyCall(token, { ...call('r-1'), approvals: [await sign(approvers[0]!, 'r-1'), await sign(approvers[1]!, 'r-1')] });
      assert.equal(two.allowed, true, two.allowed ? '' : two.reason);
      const again = await remote.verifyCall(token, { ...call('r-1'), approvals: [await sign(approvers[0]!, 'r-1'), await sign(approvers[1]!, 'r-1')] });
      assert.ok(!again.allowed && again.code === 'ERR_REPLAY');
    } finally {
      await remote.close();
    }
  });
});

test('remote batch: each call carries its own approvals', async () => {
  await withService(8, async (url) => {
    const remote = new RemoteVerifier({ url, holderKey: agent, batch: true, connections: 1 });
    try {
      const ids = ['b-1', 'b-2', 'b-3'];
      const approvalsOf = async (id: string, n: number) => Promise.all(approvers.slice(0, n).map((k) => sign(k, id)));
      const ds = await Promise.all([
        remote.verifyCall(token, { ...call(ids[0]!), approvals: await approvalsOf(ids[0]!, 2) }),
        remote.verifyCall(token, { ...call(ids[1]!), approvals: await approvalsOf(ids[1]!, 1) }),
        remote.verifyCall(token, { ...call(ids[2]!), approvals: await approvalsOf(ids[0]!, 3) }), // for another call id
      ]);
      assert.deepEqual(
        ds.map((d) => (d.allowed ? 'OK' : `${d.code}:${(d.error as ApprovalRequiredError).got}`)),
        ['OK', 'ERR_APPROVAL_REQUIRED:1', 'ERR_APPROVAL_REQUIRED:0'],
      );
    } finally {
      await remote.close();
    }
  });
});

test('POST/GET /v1/approvals: admin registers, approvers post, a UI lists; bounded', async () => {
  await withService(2, async (url) => {
    const post = (body: unknown, admin = false) =>
      fetch(`${url}/v1/approvals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(admin ? { authorization: `Bearer ${ADMIN}` } : {}) },
        body: JSON.stringify(body),
      });
    const request = (callId: string) => ({
      type: 'capframe-approval-request',
      version: 1,
      tip,
      ...call(callId),
      argsDigest: argsDigestHex(ARGS),
      got: 0,
      need: 2,
      approvers: approvers.map((k) => formatPublicKey(k.publicKey)),
    });
    assert.equal((await post({ request: request('u-1') })).status, 401);
    const added = await post({ request: request('u-1') }, true);
    assert.equal(added.status, 200);
    const entry = (await added.json()) as { id: string; got: number };
    assert.equal(entry.got, 0);
    // A request whose digest does not match its arguments is refused.
    const bad = await post({ request: { ...request('u-x'), args: { to: 'eve' } } }, true);
    assert.equal(bad.status, 400);
    // Approvers post without the admin secret: the approval authenticates them.
    const r1 = await post({ approval: await sign(approvers[0]!, 'u-1') });
    assert.equal(r1.status, 200);
    assert.equal(((await r1.json()) as { got: number }).got, 1);
    const again = await post({ approval: await sign(approvers[0]!, 'u-1') });
    assert.equal(((await again.json()) as { got: number }).got, 1, 'the same approver counts once');
    const out = await post({ approval: await signApproval(keySigner(outsider), { tip, ...call('u-1') }).then(String) });
    assert.equal(out.status, 400);
    const unknown = await post({ approval: await sign(approvers[1]!, 'u-unknown') });
    assert.equal(unknown.status, 400);
    const junk = await post({ approval: 'cfa1.AAAA' });
    assert.equal(junk.status, 400);
    await post({ approval: await sign(approvers[2]!, 'u-1') });
    // Listing needs the admin secret.
    assert.equal((await fetch(`${url}/v1/approvals`)).status, 401);
    const list = (await (await fetch(`${url}/v1/approvals`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
      pending: { id: string; got: number; approvals: string[] }[];
    };
    assert.equal(list.pending.length, 1);
    assert.equal(list.pending[0]!.got, 2);
    assert.equal(list.pending[0]!.approvals.length, 2);
    const one = await fetch(`${url}/v1/approvals?id=${entry.id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(((await one.json()) as { id: string }).id, entry.id);
    // The collected approvals run the call.
    const v = new Verifier({ trusted: [authority.publicKey] });
    const d = await v.authorize(token, { ...call('u-1'), approvals: list.pending[0]!.approvals });
    assert.equal(d.allowed, true);
    // Bounded: two pending requests at most.
    assert.equal((await post({ request: request('u-2') }, true)).status, 200);
    const full = await post({ request: request('u-3') }, true);
    assert.equal(full.status, 503);
    assert.equal(((await full.json()) as { code: string }).code, 'ERR_UNAVAILABLE');
  });
});
