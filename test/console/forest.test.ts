import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Forest } from '../../src/server/console/forest.ts';
import { decisionView } from '../../src/server/console/view.ts';
import { DecisionRing } from '../../src/server/console/ring.ts';

const id = (n: number) => n.toString(16).padStart(32, '0');
const view = (chain: string[], subject: string, allowed = true) =>
  decisionView({ allowed, code: allowed ? undefined : 'ERR_REVOKED', chainIds: chain, subject, tool: 't', mode: 'signed' }, 0, Date.now());

test('forest: bounded by maxNodes, least recently seen out with its subtree; cycles in hostile chain ids end', () => {
  const f = new Forest(6);
  for (let i = 0; i < 20; i++) f.addDecision(view([id(2 * i), id(2 * i + 1)], `agent:${i}`), { resource: 'r://*', permissions: ['read'] }, 1e10);
  assert.ok(f.size <= 6, `${f.size} nodes`);
  const trees = f.trees(() => false);
  assert.equal(trees.length, 3);
  assert.deepEqual(
    trees.map((t) => [t.id, t.children.map((c) => c.subject)]),
    [19, 18, 17].map((i) => [id(2 * i), [`agent:${i}`]]),
  );
  // a -> b, then b -> a: neither is a root any more; nothing loops.
  const g = new Forest(100);
  g.addDecision(view([id(1), id(2)], 'x'), null, null);
  g.addDecision(view([id(2), id(1)], 'y'), null, null);
  assert.doesNotThrow(() => g.trees(() => false));
  // A chain whose signatures did not hold builds nothing.
  const h = new Forest(100);
  h.addDecision(decisionView({ allowed: false, code: 'ERR_SIGNATURE_INVALID', chainIds: [id(7), id(8)], subject: 'forged' }, 0, Date.now()), null, null);
  assert.equal(h.size, 0);
  // Not hex ids: the chain is dropped from the view.
  assert.deepEqual(view(['<script>', id(1)], 's').chainIds, []);
});

test('ring: keeps the newest capacity decisions; since() reports what was overwritten', () => {
  const r = new DecisionRing(10);
  assert.equal(r.capacity, 16);
  for (let i = 0; i < 40; i++) r.push({ i });
  const { first, events } = r.since(0);
  assert.equal(first, 24);
  assert.deepEqual(
    events.map((e) => e.i),
    Array.from({ length: 16 }, (_, k) => 24 + k),
  );
  assert.deepEqual(r.since(40).events, []);
});

test('forest: past the cap it evicts a batch (down to maxNodes - maxNodes/16), not one node per decision', () => {
  const f = new Forest(160);
  for (let i = 0; i < 160; i++) f.addDecision(view([id(i)], `agent:${i}`), null, null);
  assert.equal(f.size, 160);
  f.addDecision(view([id(1000)], 'agent:new'), null, null);
  assert.equal(f.size, 150);
  // The newest stayed, the oldest went.
  const ids = new Set(f.trees(() => false, 1000).map((t) => t.id));
  assert.ok(ids.has(id(1000)) && ids.has(id(159)) && !ids.has(id(0)) && !ids.has(id(10)) && ids.has(id(11)));
  for (let i = 0; i < 10; i++) f.addDecision(view([id(2000 + i)], 'agent:more'), null, null);
  assert.equal(f.size, 160);
});
