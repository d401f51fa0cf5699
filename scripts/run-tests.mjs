// Runs every test/**/*.test.ts with node's built-in runner (Node 20 has no glob support in --test).
// Test files that need Redis or PostgreSQL (they use test/server/redis-helper.ts or
// test/revocation/pg-helpers.ts) run only when that server answers, and those that need
// SoftHSM2 (test/signers/softhsm-helper.ts) or chromium (test/console/browser-helper.ts) only
// where it is installed; with CI=true they always
// run, and a missing server fails them. What is left out, and why, is printed first.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { postgresUrl, REDIS_URL, redisAnswers } from './services.mjs';

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return collect(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}
const only = process.argv.slice(2);
let files = only.length > 0 ? only : collect('test').sort();

if (process.env.CI !== 'true') {
  const needs = [
    { helper: 'redis-helper', up: await redisAnswers(), why: `Redis is not answering at ${REDIS_URL}` },
    { helper: 'pg-helpers', up: (await postgresUrl()) !== undefined, why: 'PostgreSQL is not answering on 127.0.0.1:5432 (database test)' },
    { helper: 'softhsm-helper', up: existsSync('/usr/lib/softhsm/libsofthsm2.so'), why: 'SoftHSM2 is not installed (Debian package softhsm2)' },
    {
      helper: 'browser-helper',
      up: existsSync(process.env.CAPFRAME_CHROMIUM ?? '/usr/bin/chromium'),
      why: 'chromium is not installed (Debian package chromium)',
    },
  ];
  for (const n of needs.filter((x) => !x.up)) {
    const out = files.filter((f) => readFileSync(f, 'utf8').includes(n.helper));
    if (out.length === 0) continue;
    console.log(`# NOT RUN (${n.why}; bash .ci/run starts it; with CI=true these fail instead): ${out.join(', ')}`);
    files = files.filter((f) => !out.includes(f));
  }
}
// node --test with no file runs every test it can find: with nothing left to run, run nothing.
if (files.length === 0) {
  console.log('# no test file left to run');
  process.exit(0);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
