/**
 * Many first-time `capframe revoke --db fresh.db` at once: each process must
 * either create the schema or wait for the one that does (an immediate
 * transaction that re-reads the schema version, behind a busy timeout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializePrivateKey, generateKey } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { tempDir } from './helpers.ts';

const child = fileURLToPath(new URL('./fixtures/revoke-at.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

function run(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', tsx, child, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => {
      out += c;
    });
    p.stderr.on('data', (c) => {
      out += c;
    });
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('12 concurrent first-time `capframe revoke --db fresh.db` all succeed, 3 rounds', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'auth.key'), serializePrivateKey(generateKey()), { mode: 0o600 });
  for (let round = 0; round < 3; round++) {
    const db = `fresh-${round}.db`;
    // Every child has loaded its modules before the start time, so they open the database together.
    const at = String(Date.now() + 4000);
    const ids = Array.from({ length: 12 }, () => randomBytes(16).toString('hex'));
    const results = await Promise.all(ids.map((id) => run(dir, [at, '--db', db, '--key', 'auth.key', '--id', id])));
    for (const r of results) assert.equal(r.code, 0, r.out);
    const reg = new RevocationRegistry({ path: join(dir, db) });
    try {
      assert.equal(reg.version, 12, 'every revocation counted once');
      assert.equal(reg.view().ids.length, 12);
    } finally {
      reg.close();
    }
  }
});
