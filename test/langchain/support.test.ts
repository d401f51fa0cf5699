import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runSupportDemo } from '../../examples/support/agent.ts';

test('injection scenario end to end: the injected calls are denied, the legitimate work is done', async () => {
  const run = await runSupportDemo();
  const denied = run.calls.filter((c) => c.decision === 'deny').map((c) => `${c.agent} ${c.tool} ${c.code}`);
  assert.deepEqual(denied, [
    'agent:support list_tickets ERR_SCOPE_RESOURCE',
    'agent:support update_ticket ERR_CONSTRAINT',
    'agent:support delete_ticket ERR_SCOPE_PERMISSION',
    'agent:support delete_ticket ERR_SCOPE_PERMISSION',
    'agent:support send_email ERR_CONSTRAINT',
    'agent:summarizer update_ticket ERR_SCOPE_PERMISSION',
  ]);
  assert.equal(run.calls.filter((c) => c.decision === 'allow').length, 14);
  assert.ok(run.calls.some((c) => c.tool === 'reply_to_customer' && c.mode === 'signed' && c.decision === 'allow'));
  // Nothing deleted, nothing sent outside, the real work done.
  assert.deepEqual(
    run.tickets.map((t) => [t.id, t.status]),
    [
      [101, 'solved'],
      [102, 'pending'],
      [103, 'pending'],
    ],
  );
  assert.deepEqual(
    run.outbox.map((m) => m.to),
    ['bob@example.com', 'billing@acme.example', 'security@acme.example'],
  );
  assert.match(run.outbox[0]!.body, /capframe-proof: cfi1\./);
  assert.match(run.answer, /^Done\. Summary of 3 tickets: #101 solved/);
  // The audit file has one line per decision and no arguments.
  assert.equal(run.auditLines.length, run.calls.length);
  assert.equal(
    run.auditLines.some((l) => l.includes('evil.example') && !l.includes('resource')),
    false,
  );
  assert.equal(
    run.auditLines.some((l) => l.includes('audit@evil.example')),
    false,
  );
  assert.equal(existsSync(run.dir), false, 'temp dir removed');
});
