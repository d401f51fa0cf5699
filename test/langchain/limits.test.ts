/**
 * A real LangChain agent loop (fakeModel) on a rate-limited token: the call
 * past the limit comes back to the model as an error ToolMessage with
 * ERR_LIMIT and when the limit resets, and the run goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueToken } from '../../src/index.ts';
import { guardTools } from '../../src/langchain/index.ts';
import { capframeMiddleware } from '../../src/langchain/middleware.ts';
import { agentKey, authority, codeOf, makeGuard, makeTools, runAgent } from './fixtures.ts';

const limited = () =>
  issueToken({
    key: authority,
    subject: 'agent:support',
    holder: agentKey.publicKey,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read', 'write'], rate: { calls: 2, per: '1h' } }],
    ttl: '1h',
  });

test('guarded tools: the third call of a 2-per-hour token is denied with ERR_LIMIT; the loop finishes', async () => {
  const { guard, sink } = makeGuard();
  const creds = { configurable: { capframe: { token: limited(), holderKey: agentKey } } };
  const calls = [1, 2, 3].map((i) => ({ name: 'get_ticket', args: { id: String(i) } }));
  const msgs = await runAgent(guardTools(makeTools(), guard), calls, creds);
  assert.deepEqual(msgs.map(codeOf), ['OK', 'OK', 'ERR_LIMIT']);
  assert.match(
    String(msgs[2]!.content),
    /^Denied by capframe \(ERR_LIMIT\): rate limit of 2 calls per 3600 s of the root block \(grant 0\) is used up; resets at /,
  );
  assert.deepEqual(
    sink.events.map((e) => e.code),
    ['OK', 'OK', 'ERR_LIMIT'],
  );
});

test('middleware path: the same limit holds across two runs of the agent on one guard', async () => {
  const { guard } = makeGuard();
  const creds = { configurable: { capframe: { token: limited(), holderKey: agentKey } } };
  const mw = [capframeMiddleware(guard)];
  const first = await runAgent(
    makeTools(),
    [
      { name: 'get_ticket', args: { id: '1' } },
      { name: 'get_ticket', args: { id: '2' } },
    ],
    creds,
    mw,
  );
  const second = await runAgent(makeTools(), [{ name: 'get_ticket', args: { id: '3' } }], creds, mw);
  assert.deepEqual([...first, ...second].map(codeOf), ['OK', 'OK', 'ERR_LIMIT']);
});
