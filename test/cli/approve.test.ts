/**
 * `capframe issue --approver … --approval-threshold M` and `capframe approve
 * --key APPROVER.key --request FILE`, through the CLI's main() in process:
 * the approvals it prints run the gated call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';
import { parsePrivateKey, Token, Verifier } from '../../src/index.ts';
import { ApprovalRequiredError } from '../../src/errors.ts';

function io(dir: string) {
  const out: string[] = [];
  const err: string[] = [];
  const i: Io = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: dir };
  return { i, out, err };
}

test('issue with an approval gate, approve a request file twice, the call runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-approve-'));
  try {
    const run = async (...argv: string[]) => {
      const r = io(dir);
      const code = await main(argv, r.i);
      return { code, out: r.out.join(''), err: r.err.join('') };
    };
    for (const n of ['auth', 'agent', 'alice', 'bob', 'carol', 'eve']) assert.equal((await run('keygen', '--out', `${n}.key`)).code, 0);
    const issued = await run(
      'issue',
      '--key',
      'auth.key',
      '--sub',
      'agent:mailer',
      '--holder',
      'agent.pub',
      '--grant',
      'mail://outbox/*:send',
      '--tools',
      'send_email',
      '--approver',
      'alice.pub',
      '--approver',
      'bob.pub',
      '--approver',
      'carol.pub',
      '--approval-threshold',
      '2',
      '--ttl',
      '1h',
    );
    assert.equal(issued.code, 0, issued.err);
    const token = Token.parse(issued.out.trim());
    const verifier = new Verifier({ trusted: [parsePrivateKey(readFileSync(join(dir, 'auth.key'), 'utf8')).publicKey] });
    const call = { tool: 'send_email', operation: 'send', resource: 'mail://outbox/bob', args: { to: 'bob', body: 'hi' }, callId: 'cli-1' };
    const first = await verifier.authorize(token, call);
    assert.ok(!first.allowed && first.error instanceof ApprovalRequiredError);
    const e = first.error;
    const request = {
      type: 'capframe-approval-request',
      version: 1,
      tip: e.tip,
      tool: call.tool,
      operation: call.operation,
      resource: first.resource,
      args: call.args,
      argsDigest: first.argsDigest,
      callId: call.callId,
      got: e.got,
      need: e.need,
      approvers: e.approvers,
    };
    writeFileSync(join(dir, 'request.json'), JSON.stringify(request));
    const a = await run('approve', '--key', 'alice.key', '--request', 'request.json');
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /^cfa1\./);
    assert.match(a.err, /approved send_email send mail:\/\/outbox\/bob \(call cli-1/);
    assert.ok(!a.err.includes('"body"'), 'arguments stay out of the output');
    const b = await run('approve', '--key', 'bob.key', '--request', 'request.json', '--ttl', '5m', '--out', 'bob.approval');
    assert.equal(b.code, 0, b.err);
    // Not an approver; a request whose digest does not match its arguments; an over-long ttl.
    assert.notEqual((await run('approve', '--key', 'eve.key', '--request', 'request.json')).code, 0);
    writeFileSync(join(dir, 'forged.json'), JSON.stringify({ ...request, args: { to: 'eve', body: 'hi' } }));
    assert.notEqual((await run('approve', '--key', 'alice.key', '--request', 'forged.json')).code, 0);
    assert.equal((await run('approve', '--key', 'alice.key', '--request', 'request.json', '--ttl', '2h')).code, 2);
    const d = await verifier.authorize(token, { ...call, approvals: [a.out.trim(), readFileSync(join(dir, 'bob.approval'), 'utf8').trim()] });
    assert.equal(d.allowed, true, d.allowed ? '' : d.reason);
    // --approver without --approval-threshold is a usage error.
    assert.equal(
      (await run('issue', '--key', 'auth.key', '--sub', 'a', '--holder', 'agent.pub', '--grant', 'x://y/*:r', '--approver', 'alice.pub', '--ttl', '1h')).code,
      2,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
