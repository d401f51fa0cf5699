// The LangChain guard with the remote verifier (attested calls) and the audit log as its decision sink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { generateKey, issueToken, Verifier } from '../../src/index.ts';
import { Guard, guardTool } from '../../src/langchain/index.ts';
import { AuditLog, verifyAuditLog } from '../../src/audit/index.ts';
import { createVerifyService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';

test('guarded LangChain tool checked by the remote service; decisions land in the hash-chained audit log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-guardremote-'));
  const authority = generateKey();
  const holder = generateKey();
  const token = issueToken({
    key: authority,
    subject: 'agent:support',
    holder: holder.publicKey,
    ttl: '1h',
    grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  });
  const serviceAudit = AuditLog.open({ path: join(dir, 'service.jsonl') });
  const service = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey] }), audit: serviceAudit });
  const { url } = await service.listen(0);
  const remote = new RemoteVerifier({ url });
  const guardAudit = AuditLog.open({ path: join(dir, 'guard.jsonl'), source: 'guard' });
  let ran = 0;
  const getTicket = tool(
    async ({ id }: { id: string }) => {
      ran++;
      return `ticket ${id}`;
    },
    { name: 'get_ticket', description: 'Reads a ticket.', schema: z.object({ id: z.string() }) },
  );
  const deleteTicket = tool(
    async () => {
      ran++;
      return 'deleted';
    },
    { name: 'delete_ticket', description: 'Deletes a ticket.', schema: z.object({ id: z.string() }) },
  );
  const guard = new Guard({
    verifier: remote,
    attestAll: true,
    sink: guardAudit.sink,
    policies: { get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' }, delete_ticket: { resource: 'tickets://acme/{id}', operation: 'delete' } },
  });
  try {
    const g = guardTool(getTicket, guard);
    const d = guardTool(deleteTicket, guard);
    const config = { configurable: { capframe: { token, holderKey: holder } } };
    const ok = await g.invoke({ type: 'tool_call', id: 'call-1', name: 'get_ticket', args: { id: '42' } }, config);
    assert.equal(ok.content, 'ticket 42');
    const denied = await d.invoke({ type: 'tool_call', id: 'call-2', name: 'delete_ticket', args: { id: '42' } }, config);
    assert.equal(denied.status, 'error');
    assert.match(String(denied.content), /ERR_SCOPE_PERMISSION/);
    const replay = await g.invoke({ type: 'tool_call', id: 'call-1', name: 'get_ticket', args: { id: '42' } }, config);
    assert.match(String(replay.content), /ERR_REPLAY/);
    assert.equal(ran, 1);
    // service down: fail closed, the tool does not run
    await service.close();
    const down = await g.invoke({ type: 'tool_call', id: 'call-3', name: 'get_ticket', args: { id: '7' } }, config);
    assert.match(String(down.content), /ERR_UNAVAILABLE/);
    assert.equal(ran, 1);
  } finally {
    await remote.close();
    await service.close();
    serviceAudit.close();
    guardAudit.close();
  }
  const gl = readFileSync(join(dir, 'guard.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    gl.map((l) => [l.decision, l.code, l.callId]),
    [
      ['allow', null, 'call-1'],
      ['deny', 'ERR_SCOPE_PERMISSION', 'call-2'],
      ['deny', 'ERR_REPLAY', 'call-1'],
      ['deny', 'ERR_UNAVAILABLE', 'call-3'],
    ],
  );
  assert.equal(gl[0].source, 'guard');
  assert.equal(gl[0].subject, 'agent:support');
  assert.equal(gl[0].chain.length, 1);
  assert.equal(verifyAuditLog(join(dir, 'guard.jsonl')).ok, true);
  const sv = verifyAuditLog(join(dir, 'service.jsonl'));
  assert.equal(sv.ok, true);
  assert.equal(sv.lines, 3);
  rmSync(dir, { recursive: true, force: true });
});
