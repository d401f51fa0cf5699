/**
 * A 2-of-3 approval gate on send_email in a real createAgent loop (fakeModel,
 * MemorySaver): the guard's ERR_APPROVAL_REQUIRED becomes a LangGraph
 * interrupt whose value is the approval request; resuming with signed
 * approvals runs the call, exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AIMessage, createAgent, fakeModel, tool } from 'langchain';
import { Command, MemorySaver } from '@langchain/langgraph';
import { z } from 'zod';
import { formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { approveRequest, signApproval } from '../../src/authority/approve.ts';
import { Guard, memorySink, parseConfig } from '../../src/langchain/index.ts';
import { capframeMiddleware } from '../../src/langchain/middleware.ts';
import type { ApprovalRequest } from '../../src/token/approval-request.ts';

const authority = generateKey();
const agentKey = generateKey();
const approvers = [generateKey(), generateKey(), generateKey()];
const outsider = generateKey();

const token = issueToken({
  key: authority,
  subject: 'agent:mailer',
  holder: agentKey.publicKey,
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

const CONFIG = `
trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
audit:
  sink: none
tools:
  send_email:
    resource: mail://outbox/{to}
    operation: send
`;

function setup() {
  const sent: unknown[] = [];
  const sendEmail = tool(
    async (args) => {
      sent.push(args);
      return `sent to ${args.to}`;
    },
    { name: 'send_email', description: 'send an email', schema: z.object({ to: z.string(), subject: z.string(), body: z.string() }) },
  );
  const cfg = parseConfig(CONFIG, { file: 'approvals.yaml' });
  const sink = memorySink();
  const guard = new Guard({ config: cfg, sink, verifier: new Verifier({ trusted: cfg.trusted }) });
  return { sent, sendEmail, guard, sink };
}

const ARGS = { to: 'bob', subject: 'Q3', body: 'numbers attached' };

function agentFor(
  tools: ReturnType<typeof setup>,
  calls = [{ name: 'send_email', args: ARGS, id: 'call-1' }],
  checkpointer: MemorySaver | undefined = new MemorySaver(),
) {
  const model = fakeModel().respondWithTools(calls).respond(new AIMessage('done'));
  return createAgent({ model, tools: [tools.sendEmail], middleware: [capframeMiddleware(tools.guard)], ...(checkpointer ? { checkpointer } : {}) });
}

const runConfig = (thread: string) => ({ configurable: { thread_id: thread, capframe: { token, holderKey: agentKey } } });

/** The approval request of the run's pending interrupt. */
function pending(out: any): ApprovalRequest {
  const i = out.__interrupt__;
  assert.ok(Array.isArray(i) && i.length === 1, 'the run is paused with one interrupt');
  return i[0].value as ApprovalRequest;
}

const approve = (k: (typeof approvers)[number], r: ApprovalRequest, ttl?: number) =>
  approveRequest(keySigner(k), r, ttl ? { ttl } : {}).then((a) => a.toString());

test('2-of-3 gate: no approval -> interrupt (0/2); one -> still required (1/2); two distinct -> the tool runs once', async () => {
  const t = setup();
  const agent = agentFor(t);
  const cfg = runConfig('t-2of3');
  let out = await (agent as any).invoke({ messages: [{ role: 'user', content: 'send it' }] }, cfg as never);
  let req = pending(out);
  assert.deepEqual(
    [req.type, req.tool, req.operation, req.resource, req.callId, req.got, req.need],
    ['capframe-approval-request', 'send_email', 'send', 'mail://outbox/bob', 'call-1', 0, 2],
  );
  assert.deepEqual(req.args, ARGS);
  assert.equal(req.approvers.length, 3);
  assert.equal(t.sent.length, 0);

  out = await (agent as any).invoke(new Command({ resume: { type: 'approve', approvals: [await approve(approvers[0]!, req)] } }), cfg as never);
  req = pending(out);
  assert.deepEqual([req.got, req.need], [1, 2]);
  assert.equal(t.sent.length, 0);

  out = await (agent as any).invoke(new Command({ resume: { type: 'approve', approvals: [await approve(approvers[2]!, req)] } }), cfg as never);
  assert.equal(out.__interrupt__, undefined);
  assert.equal(out.messages.at(-1).content, 'done');
  assert.deepEqual(t.sent, [ARGS]);
  const tm = out.messages.filter((m: any) => m.getType() === 'tool');
  assert.deepEqual(
    tm.map((m: any) => [m.status, m.content]),
    [['success', 'sent to bob']],
  );
  const codes = t.sink.events.map((e) => e.code);
  // A resumed run re-runs the tool node: earlier answers are replayed, so denials repeat; one allow.
  assert.ok(codes.slice(0, -1).every((c) => c === 'ERR_APPROVAL_REQUIRED'));
  assert.equal(codes.at(-1), 'OK');
  assert.equal(codes.filter((c) => c === 'OK').length, 1);
});

test('two approvals at once run the call; the same approver twice counts once', async () => {
  const t = setup();
  const agent = agentFor(t);
  const cfg = runConfig('t-same');
  const req = pending(await (agent as any).invoke({ messages: [{ role: 'user', content: 'send' }] }, cfg as never));
  const a1 = await approve(approvers[1]!, req);
  const a1b = await approve(approvers[1]!, req, 300); // another approval by the same key
  let out = await (agent as any).invoke(new Command({ resume: { type: 'approve', approvals: [a1, a1b] } }), cfg as never);
  assert.deepEqual([pending(out).got, pending(out).need], [1, 2]);
  assert.equal(t.sent.length, 0);
  out = await (agent as any).invoke(new Command({ resume: { type: 'approve', approvals: [a1, await approve(approvers[0]!, req)] } }), cfg as never);
  assert.equal(out.__interrupt__, undefined);
  assert.deepEqual(t.sent, [ARGS]);
});

test('approvals for other arguments, expired ones and an outsider’s are refused (do not count)', async () => {
  const t = setup();
  const agent = agentFor(t);
  const cfg = runConfig('t-refused');
  const req = pending(await (agent as any).invoke({ messages: [{ role: 'user', content: 'send' }] }, cfg as never));
  const good = await approve(approvers[0]!, req);
  const { argsDigest: _d, ...rest } = req;
  const otherArgs = await signApproval(keySigner(approvers[1]!), { ...rest, args: { ...ARGS, to: 'eve' } }).then(String);
  const past = Math.floor(Date.now() / 1000) - 4000;
  const expired = await signApproval(keySigner(approvers[2]!), { ...rest, args: ARGS }, { clock: () => past, ttl: 60 }).then(String);
  const outsiderApproval = await signApproval(keySigner(outsider), { ...rest, args: ARGS }).then(String);
  const out = await (agent as any).invoke(new Command({ resume: { type: 'approve', approvals: [good, otherArgs, expired, outsiderApproval] } }), cfg as never);
  const again = pending(out);
  assert.deepEqual([again.got, again.need], [1, 2]);
  assert.equal(t.sent.length, 0);
  const last = t.sink.events.at(-1)!;
  assert.equal(last.code, 'ERR_APPROVAL_REQUIRED');
  assert.match(String(last.reason), /1 other call/);
  assert.match(String(last.reason), /1 expired/);
  assert.match(String(last.reason), /1 not an approver/);
  // The approver refuses to sign a request whose digest does not match its arguments, or when not listed.
  await assert.rejects(approveRequest(keySigner(approvers[0]!), { ...req, args: { ...ARGS, to: 'eve' } }), { code: 'ERR_MALFORMED' });
  await assert.rejects(approveRequest(keySigner(outsider), req), { code: 'ERR_INVALID_ARGUMENT' });
});

test('an edited call has another digest: earlier approvals do not count, new ones run the edited call', async () => {
  const t = setup();
  const agent = agentFor(t);
  const cfg = runConfig('t-edit');
  const req = pending(await (agent as any).invoke({ messages: [{ role: 'user', content: 'send' }] }, cfg as never));
  const a0 = await approve(approvers[0]!, req);
  const a1 = await approve(approvers[1]!, req);
  const edited = { ...ARGS, body: 'numbers attached (v2)' };
  let out = await (agent as any).invoke(new Command({ resume: { type: 'edit', args: edited, approvals: [a0, a1] } }), cfg as never);
  const req2 = pending(out);
  assert.deepEqual([req2.got, req2.need], [0, 2]);
  assert.notEqual(req2.argsDigest, req.argsDigest);
  assert.deepEqual(req2.args, edited);
  out = await (agent as any).invoke(
    new Command({ resume: { type: 'approve', approvals: [await approve(approvers[0]!, req2), await approve(approvers[1]!, req2)] } }),
    cfg as never,
  );
  assert.equal(out.__interrupt__, undefined);
  assert.deepEqual(t.sent, [edited]);
});

test('reject: the call is not made and the model gets an error ToolMessage; the loop finishes', async () => {
  const t = setup();
  const agent = agentFor(t);
  const cfg = runConfig('t-reject');
  pending(await (agent as any).invoke({ messages: [{ role: 'user', content: 'send' }] }, cfg as never));
  const out = await (agent as any).invoke(new Command({ resume: { type: 'reject', message: 'not today' } }), cfg as never);
  assert.equal(out.messages.at(-1).content, 'done');
  const tm = out.messages.filter((m: any) => m.getType() === 'tool');
  assert.equal(tm[0].status, 'error');
  assert.match(String(tm[0].content), /ERR_APPROVAL_REQUIRED.*not today/);
  assert.equal(t.sent.length, 0);
});

test('without a checkpointer the call is denied with ERR_APPROVAL_REQUIRED (the run does not abort)', async () => {
  const t = setup();
  const agent = agentFor(t, undefined, null as unknown as undefined);
  const out = await (agent as any).invoke({ messages: [{ role: 'user', content: 'send' }] }, runConfig('t-none') as never);
  assert.equal(out.messages.at(-1).content, 'done');
  const tm = out.messages.filter((m: any) => m.getType() === 'tool');
  assert.equal(tm[0].status, 'error');
  assert.match(String(tm[0].content), /ERR_APPROVAL_REQUIRED/);
  assert.equal(t.sent.length, 0);
});
