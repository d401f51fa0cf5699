/**
 * The synchronous checks behind the guard's hot path: with the in-memory
 * replay store they answer without a promise (a promise per call costs
 * microseconds under LangChain's AsyncLocalStorage), and they are not part
 * of the public API (the public checks are async).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import * as root from '../../src/index.ts';
import { createInvocation, generateKey, issueToken, Verifier, type Decision } from '../../src/index.ts';
import * as langchain from '../../src/langchain/index.ts';
import { Guard, guardTool, type CheckResult } from '../../src/langchain/index.ts';
import { checkSync } from '../../src/langchain/guard.ts';
import { authorizeSync, verifyInvocationSync } from '../../src/verify/sync.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:sync',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});
const call = (id: string, resource = 'tickets://acme/1') => ({ tool: 'get_ticket', operation: 'read', resource, args: { id: 1 }, callId: id });

function isThenable(x: unknown): boolean {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** A replay store that answers with a promise, like Redis or PostgreSQL. */
const asyncReplay = { checkAndRecord: async () => true };

test('Verifier: the internal sync checks answer without a promise with the in-memory replay store', () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  const allowed = v[authorizeSync](token, call('s-1'));
  assert.ok(!isThenable(allowed), 'authorizeSync returned a promise for an allowed call');
  assert.equal((allowed as Decision).allowed, true);
  const denied = v[authorizeSync](token, call('s-2', 'mail://acme/1'));
  assert.ok(!isThenable(denied), 'authorizeSync returned a promise for a denied call');
  assert.equal((denied as Decision).allowed, false);
  const replayed = v[authorizeSync](token, call('s-1'));
  assert.ok(!isThenable(replayed), 'authorizeSync returned a promise for a replay');
  assert.equal(!(replayed as Decision).allowed && (replayed as { code: string }).code, 'ERR_REPLAY');

  const proof = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/2', args: { id: 2 } });
  const signed = v[verifyInvocationSync](token, proof, { tool: 'get_ticket', args: { id: 2 } });
  assert.ok(!isThenable(signed), 'verifyInvocationSync returned a promise');
  assert.equal((signed as Decision).allowed, true);
});

test('Verifier: with an asynchronous replay store the sync checks return a promise (the test above can fail)', async () => {
  const v = new Verifier({ trusted: [authority.publicKey], replay: asyncReplay });
  const r = v[authorizeSync](token, call('a-1'));
  assert.ok(isThenable(r));
  assert.equal((await r).allowed, true);
});

test('Guard: the internal sync check answers without a promise for a local Verifier, plain and attested tools', () => {
  const guard = new Guard({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    sink: null,
    policies: {
      get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' },
      get_secret: { resource: 'tickets://acme/{id}', operation: 'read', attested: true },
    },
  });
  const run = { configurable: { capframe: { token, holderKey: holder } } };
  for (const [name, id] of [
    ['get_ticket', 'g-1'],
    ['get_secret', 'g-2'],
  ] as const) {
    const r = guard[checkSync](name, { id: '7' + id }, id, run, 'tool');
    assert.ok(!isThenable(r), `checkSync returned a promise for ${name}`);
    assert.equal((r as CheckResult).allowed, true);
  }
  const denied = guard[checkSync]('get_ticket', { id: 'x' }, 'g-3', { configurable: {} }, 'tool');
  assert.ok(!isThenable(denied), 'checkSync returned a promise for a denial');
  assert.equal((denied as CheckResult).allowed, false);
});

test('the public checks are async; the sync ones are not reachable from the package entries', async () => {
  const v = new Verifier({ trusted: [authority.publicKey] });
  assert.ok(v.authorize(token, call('p-1')) instanceof Promise);
  const guard = new Guard({ verifier: v, sink: null, policies: { get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' } } });
  const r = guard.check('get_ticket', { id: '1' }, 'p-2', { configurable: { capframe: { token } } });
  assert.ok(r instanceof Promise);
  assert.equal((await r).allowed, true);
  for (const name of ['authorizeNow', 'verifyInvocationNow', 'checkNow']) {
    assert.equal(name in v || name in guard, false, `${name} is still a public method`);
  }
  const exported = new Set<unknown>([...Object.values(root), ...Object.values(langchain)]);
  for (const s of [authorizeSync, verifyInvocationSync, checkSync]) assert.equal(exported.has(s), false);
});

test('GuardedTool: an allowed call through the sync path still answers like the inner tool', async () => {
  const guard = new Guard({ verifier: new Verifier({ trusted: [authority.publicKey] }), sink: null });
  const t = guardTool(
    tool(async ({ id }: { id: string }) => `ticket ${id}`, { name: 'get_ticket', description: 'Reads a ticket.', schema: z.object({ id: z.string() }) }),
    guard,
    { resource: 'tickets://acme/{id}', operation: 'read' },
  );
  const out = await t.invoke({ type: 'tool_call', id: 'tc-1', name: 'get_ticket', args: { id: '5' } }, { configurable: { capframe: { token } } });
  assert.equal(out.content, 'ticket 5');
});
