import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('run-tests: without chromium (and CI unset) the browser tests are left out with the reason, and nothing else runs in their place', () => {
  const env = { ...process.env, CI: '', CAPFRAME_CHROMIUM: '/nonexistent/chromium' };
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/console/browser.test.ts'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /# NOT RUN \(chromium is not installed \(Debian package chromium\).*\): test\/console\/browser\.test\.ts/);
  assert.match(r.stdout, /# no test file left to run/);
  assert.doesNotMatch(r.stdout, /TAP version/);
});
