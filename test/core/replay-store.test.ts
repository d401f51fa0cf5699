import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError } from '../../src/errors.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';

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
  assert.throws(
    () => s.checkAndRecord('d', 20, 5),
    (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE',
  );
  // At t=20, b and c have expired although the oldest entry has not: room again.
  assert.equal(s.checkAndRecord('d', 30, 20), true);
  assert.equal(s.size, 2);
  assert.equal(s.checkAndRecord('long', 2000, 20), false, 'the long-lived key is still remembered');
});

/**
 * The store against a plain model (a Map with the documented semantics), over
 * random operations with keys reused, time moving forward in steps, a small
 * capacity (refusals happen) and enough calls to force several table rebuilds.
 */
test('replay store: agrees with a reference model over 200,000 random operations', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (const capacity of [5, 700, 3000]) {
    const s = new MemoryReplayStore(capacity);
    const model = new Map<string, number>();
    let now = 1_000;
    let refused = 0;
    let replays = 0;
    for (let i = 0; i < 200_000 / 3; i++) {
      if (rand(400) === 0) now += rand(40);
      const key = `k${rand(capacity * 3)}`;
      const exp = now + 1 + rand(60);
      const prev = model.get(key);
      let live = 0;
      for (const e of model.values()) if (e > now) live++;
      let expected: boolean | 'full';
      if (prev !== undefined && prev > now) expected = false;
      else if (live >= capacity) expected = 'full';
      else expected = true;
      let got: boolean | 'full';
      try {
        got = s.checkAndRecord(key, exp, now);
      } catch (e) {
        assert.ok(e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE', String(e));
        got = 'full';
      }
      assert.equal(got, expected, `capacity ${capacity}, op ${i}, key ${key}, now ${now}`);
      if (got === true) model.set(key, exp);
      if (got === 'full') refused++;
      if (got === false) replays++;
      assert.ok(s.size <= capacity, 'never holds more than its capacity');
    }
    assert.ok(replays > 1000, `replays were exercised (${replays})`);
    if (capacity < 3000) assert.ok(refused > 0, `capacity ${capacity}: a full store was exercised (${refused})`);
  }
});

test('replay store: entries that expire at once are reclaimed, and the table shrinks back', () => {
  const s = new MemoryReplayStore(100_000);
  for (let i = 0; i < 50_000; i++) assert.equal(s.checkAndRecord(`a${i}`, 100, 0), true);
  assert.equal(s.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.equal(s.checkAndRecord(`a${i}`, 200, 50), false);
  // At t=100 all of them have expired: the same keys are accepted again and the store does not grow.
  for (let i = 0; i < 50_000; i++) assert.equal(s.checkAndRecord(`a${i}`, 300, 100), true);
  assert.equal(s.size, 50_000);
  for (let i = 0; i < 10; i++) assert.equal(s.checkAndRecord(`b${i}`, 400, 300), true);
  assert.ok(s.size <= 50_010);
  assert.equal(s.checkAndRecord('a1', 400, 299), false, 'still live just before its expiry');
});

test('replay store: a non-finite now is refused and forgets nothing', () => {
  const s = new MemoryReplayStore(4);
  assert.equal(s.checkAndRecord('a', 100, 10), true);
  for (const bad of [NaN, Infinity, -Infinity, '5' as unknown as number]) {
    assert.throws(
      () => s.checkAndRecord('b', 100, bad),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_INVALID_ARGUMENT',
    );
  }
  assert.equal(s.checkAndRecord('a', 100, 20), false, 'the live entry is still there');
});

test('replay store: a store full of live entries refuses at once until something can have expired', () => {
  const s = new MemoryReplayStore(1000);
  for (let i = 0; i < 1000; i++) assert.equal(s.checkAndRecord(`k${i}`, 50 + (i % 10), 0), true);
  let refused = 0;
  for (let i = 0; i < 20_000; i++) {
    try {
      s.checkAndRecord(`n${i}`, 100, 10);
    } catch (e) {
      if ((e as CapframeError).code === 'ERR_UNAVAILABLE') refused++;
    }
  }
  assert.equal(refused, 20_000);
  // At t=50 the first tenth has expired: room again, and the live ones are still remembered.
  assert.equal(s.checkAndRecord('n-late', 100, 50), true);
  assert.equal(s.checkAndRecord('k5', 100, 50), false);
  assert.equal(s.checkAndRecord('k0', 100, 50), true, 'k0 expired at 50');
});
