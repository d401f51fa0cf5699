// The core benchmark suite runs end to end (quick mode) and reports every
// metric of issue 2. No timing assertions: performance is judged by `npm run bench`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreSuite } from '../bench/core.ts';
import { SUITES } from '../bench/suites.ts';
import { percentile, compare } from '../bench/stats.ts';

const CORE_KEYS = [
  'native_verify_us',
  'native_sign_us',
  'signed_check_us',
  'local_check_us',
  'local_check_1block_us',
  'constraints5_check_us',
  'chain1_cached_us',
  'chain3_cached_us',
  'chain3_uncached_us',
  'root_token_bytes',
  'delegation_block_bytes',
  'invocation_bytes',
];

test('the core suite is in the suite table, runs by default, under its name', () => {
  const core = SUITES.find((s) => s.name === 'core');
  assert.equal(core, coreSuite);
  assert.equal(core.default, true);
  assert.equal(new Set(SUITES.map((s) => s.name)).size, SUITES.length, 'suite names are unique');
});

test('core suite (quick) reports every metric as a finite positive number', async () => {
  const r = await coreSuite.run({ quick: true });
  for (const k of CORE_KEYS) {
    const v = r.metrics[k];
    assert.equal(typeof v, 'number', `${k} is reported`);
    assert.ok(Number.isFinite(v) && v! > 0, `${k} = ${v} is a finite positive number`);
  }
  // Sizes are exact, not timings: integers.
  for (const k of ['root_token_bytes', 'delegation_block_bytes', 'invocation_bytes']) assert.ok(Number.isInteger(r.metrics[k]), k);
  // Every target of the issue is printed as a row with a verdict.
  const targets = r.rows.filter((row) => row.ok !== undefined);
  assert.equal(targets.length, 6);
  for (const row of r.rows) {
    assert.equal(typeof row.name, 'string');
    assert.equal(typeof row.value, 'string');
  }
});

test('stats helpers: nearest-rank percentiles and interleaved sample counts', async () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10), 1);
  assert.ok(Number.isNaN(percentile([], 50)));
  const order: string[] = [];
  const samples = await compare(
    [
      { name: 'a', run: () => order.push('a') },
      {
        name: 'b',
        prepare: (i) => i * 2,
        run: async (x: number) => {
          order.push(`b${x}`);
        },
      },
    ],
    { warmup: 1, iterations: 4, rounds: 2 },
  );
  assert.equal(samples.get('a')!.length, 4);
  assert.equal(samples.get('b')!.length, 4);
  // warm-up first, then two rounds of two calls each, alternating between the cases
  assert.deepEqual(order, ['a', 'b0', 'a', 'a', 'b2', 'b4', 'a', 'a', 'b6', 'b8']);
});
