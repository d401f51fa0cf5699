/** better-sqlite3 is an optional peer: loaded when a registry is opened, a clear ERR_CONFIG when missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tsx = import.meta.resolve('tsx');
const preload = fileURLToPath(new URL('./fixtures/no-sqlite.cjs', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/open-registry.ts', import.meta.url));

test('without better-sqlite3 the revocation module imports, and opening a registry is ERR_CONFIG naming the package', () => {
  const out = execFileSync(process.execPath, ['--require', preload, '--import', tsx, child], { encoding: 'utf8' });
  assert.match(out, /^IMPORTED\n/);
  assert.match(
    out,
    /ERR_CONFIG: the SQLite revocation registry needs the optional package better-sqlite3, which is not installed \(npm install better-sqlite3\)/,
  );
});

test('with better-sqlite3 installed the same child opens the registry', () => {
  const out = execFileSync(process.execPath, ['--import', tsx, child], { encoding: 'utf8' });
  assert.equal(out, 'IMPORTED\nOPENED\n');
});
