/** The deep-research example (npm run demo:deep): the injected instruction's calls are denied with their codes, the rest runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeChain } from '../../src/token/chain.ts';
import { runDeepResearch, type DemoEvent } from '../../examples/deep-research/research.ts';

test('deep-research: research is read-only and rate-limited, the writer writes only under /drafts/, the injection is denied with codes', async () => {
  const events: DemoEvent[] = [];
  const r = await runDeepResearch((e) => events.push(e));
  const decisions = events.flatMap((e) => (e.kind === 'decision' ? [[e.event.subject ?? '-', e.event.tool, e.event.code, e.event.resource]] : []));
  assert.deepEqual(decisions, [
    ['subagent:research', 'task', 'OK', 'subagent:research'],
    ['subagent:research', 'fetch_url', 'OK', 'web://docs.example.com/market/q3-outlook'],
    ['subagent:research', 'fetch_url', 'OK', 'web://docs.example.com/market/q3-details'],
    ['subagent:research', 'fetch_url', 'ERR_LIMIT', 'web://docs.example.com/market/q3-archive'],
    ['subagent:research', 'read_file', 'ERR_SCOPE_RESOURCE', 'files://secrets/api-key.txt'],
    ['subagent:research', 'write_file', 'ERR_SCOPE_PERMISSION', 'files://reports/notes.md'],
    ['subagent:research', 'http_post', 'ERR_SCOPE_RESOURCE', 'web://collect.evil.example/drop'],
    ['subagent:research', 'read_file', 'OK', 'files://reports/q3.md'],
    ['subagent:writer', 'task', 'OK', 'subagent:writer'],
    ['subagent:writer', 'write_file', 'OK', 'files://drafts/q3-post.md'],
    ['subagent:writer', 'write_file', 'ERR_SCOPE_PERMISSION', 'files://reports/q3.md'],
    ['-', 'task', 'ERR_NO_SCHEMA', 'subagent:general-purpose'],
  ]);
  const delegations = events.flatMap((e) => (e.kind === 'delegation' ? [e.delegation] : []));
  assert.deepEqual(
    delegations.map((d) => d.subagent),
    ['research', 'writer'],
  );
  for (const d of delegations) assert.ok(decodeChain(d.token).exp < r.parentExpiry);
  assert.deepEqual(r.posted, []);
  assert.deepEqual(r.files, ['/drafts/q3-post.md', '/reports/q3.md', '/secrets/api-key.txt']);
  assert.equal(r.answer, 'Q3 post drafted at /drafts/q3-post.md.');
});
