import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RevocationRegistry, SCHEMA_VERSION } from '../../src/revocation/registry.ts';
import { chainFixture, tempDir } from './helpers.ts';

test('a new registry creates its directory, runs the migrations and uses WAL with synchronous=FULL', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'nested', 'authority.db');
  const reg = new RevocationRegistry({ path });
  t.after(() => reg.close());
  assert.ok(existsSync(path));
  assert.equal(reg.schemaVersion, SCHEMA_VERSION);
  assert.equal(reg.version, 0);
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => (r as { name: string }).name);
  db.close();
  for (const name of ['issued', 'key_cutoffs', 'revoked_ids', 'revoked_subjects', 'state']) assert.ok(tables.includes(name), name);
  // reopening does not re-run migrations and keeps the data
  reg.revokeSubject('agent:x');
  reg.close();
  const again = new RevocationRegistry({ path });
  assert.equal(again.version, 1);
  assert.deepEqual(again.view().subjects, ['agent:x']);
  again.close();
});

test('a database from a newer capframe is refused', (t) => {
  const path = join(tempDir(t), 'a.db');
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => new RevocationRegistry({ path }), { code: 'ERR_INVALID_ARGUMENT', message: /newer/ });
});

test('every change bumps the version once; repeats change nothing', (t) => {
  const reg = new RevocationRegistry({ path: join(tempDir(t), 'a.db') });
  t.after(() => reg.close());
  const id = randomBytes(16).toString('hex');
  assert.deepEqual(reg.revokeId(id), { changed: true, version: 1, target: id });
  assert.deepEqual(reg.revokeId(id.toUpperCase()), { changed: false, version: 1, target: id });
  assert.equal(reg.revokeSubject('agent:a').version, 2);
  assert.equal(reg.revokeSubject('agent:a').changed, false);
  assert.throws(() => reg.revokeId('xyz'), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => reg.revokeSubject(''), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => reg.revokeIssuedBefore('nope', 1), { code: 'ERR_INVALID_ARGUMENT' });
  const seen: number[] = [];
  reg.on('change', (v) => seen.push(v));
  reg.revokeIds([randomBytes(16).toString('hex'), randomBytes(16).toString('hex')]);
  assert.deepEqual(seen, [3]);
  assert.equal(reg.view().ids.length, 3);
});

test('recorded tokens give revoked ids an expiry; long-expired ids drop out of the view', (t) => {
  const f = chainFixture();
  let now = Math.floor(Date.now() / 1000);
  const reg = new RevocationRegistry({ path: join(tempDir(t), 'a.db'), clock: () => now });
  t.after(() => reg.close());
  reg.recordIssued(f.root);
  const rootId = reg.revokeToken(f.root).target;
  const view = reg.view();
  assert.equal(view.ids[0]!.id, rootId);
  const exp = view.ids[0]!.expiresAt!;
  assert.ok(exp > now);
  now = exp + 10;
  assert.equal(reg.view(0, now - 5).ids.length, 0);
  assert.equal(reg.view(0, now - 3600).ids.length, 1);
});

test('an acknowledged revocation survives SIGKILL right after the ACK', async (t) => {
  const path = join(tempDir(t), 'crash.db');
  new RevocationRegistry({ path }).close();
  const id = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-child.ts'), path, id], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
      if (out.includes('ACK')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`child exited before ACK: ${out}`)));
  });
  assert.equal(await exited, 'SIGKILL');
  const reg = new RevocationRegistry({ path });
  t.after(() => reg.close());
  assert.equal(reg.version, 1);
  assert.deepEqual(
    reg.view().ids.map((r) => r.id),
    [id],
  );
});
