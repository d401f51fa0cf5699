// The cli bench suite runs end to end (quick mode) against the built dist/ and
// reports its metrics. No timing assertions: `npm run bench -- --suite cli` judges speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliSuite } from '../../bench/cli.ts';
import { SUITES } from '../../bench/suites.ts';

test('cli suite: in the default run; quick mode reports ratios, medians and the load average', async () => {
  assert.ok(SUITES.includes(cliSuite) && cliSuite.default);
  const r = await cliSuite.run({ quick: true });
  for (const k of ['cli_help_ratio', 'cli_verify_ratio', 'cli_bare_ms', 'cli_help_ms', 'cli_verify_ms']) {
    const v = r.metrics[k];
    assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${k} = ${v}`);
  }
  for (const k of ['cli_loadavg_start', 'cli_loadavg_end']) assert.ok(Number.isFinite(r.metrics[k]), k);
  assert.equal(r.rows.filter((row) => row.ok !== undefined).length, 2);
});
