import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError, MemoryReplayStore } from '../../src/index.ts';

test('replay store: a second use of a live key is refused, an expired key may be used again', () => {
  const s = new MemoryReplayStore(10);
  assert.equal(s.checkAndRecord('a', 100, 0), true);
  assert.equal(s.checkAndRecord('a', 100, 50), false);
  assert.equal(s.checkAndRecord('a', 200, 100), true);
});

test('replay store: expired entries behind a long-lived head are reclaimed before refusing', () => {
  const s = new MemoryReplayStore(3);
  assert.equal(s.checkAndRecord('long', 1000, 0), true);
  assert.equal(s.checkAndRecord('b', 10, 0), true);
  assert.equal(s.checkAndRecord('c', 10, 0), true);
  // Full at t=5: every entry is live, so the store refuses (fail closed) rather than forget one.
  assert.throws(() => s.checkAndRecord('d', 20, 5), (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE');
  // At t=20, b and c have expired although the oldest entry has not: room again.
  assert.equal(s.checkAndRecord('d', 30, 20), true);
  assert.equal(s.size, 2);
  assert.equal(s.checkAndRecord('long', 2000, 20), false, 'the long-lived key is still remembered');
});
