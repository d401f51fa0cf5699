import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInvocation, formatPublicKey, serializePrivateKey } from '../../src/index.ts';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { parseTime } from '../../src/cli/commands/revoke.ts';
import { chainFixture, tempDir } from './helpers.ts';

function io(cwd: string): Io & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    env: {},
    cwd,
    stdout(t: string) {
      o.out += t;
    },
    stderr(t: string) {
      o.err += t;
    },
  };
  return o;
}

test('capframe revoke --token, revocations export, verify --revocations: the revoked chain is denied', async (t) => {
  const dir = tempDir(t);
  const f = chainFixture();
  writeFileSync(join(dir, 'auth.key'), serializePrivateKey(f.authority), { mode: 0o600 });
  writeFileSync(join(dir, 'child.tok'), f.child.toString() + '\n');
  const proof = createInvocation(f.grandchild, { key: f.leaf, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: 1 } });
  writeFileSync(join(dir, 'gc.tok'), f.grandchild.toString() + '\n');
  writeFileSync(join(dir, 'gc.inv'), proof.toString() + '\n');
  const pub = formatPublicKey(f.authority.publicKey);
  const verify = [
    'verify',
    '--token',
    'gc.tok',
    '--invocation',
    'gc.inv',
    '--trust',
    pub,
    '--tool',
    'get_ticket',
    '--args',
    '{"id":1}',
    '--revocations',
    'snap.cfr',
  ];

  const e0 = io(dir);
  assert.equal(await main(['revocations', 'export', '--db', 'a.db', '--key', 'auth.key', '--out', 'snap.cfr'], e0), 0, e0.err);
  assert.match(e0.err, /version 0: 0 ids/);
  assert.equal(await main(verify, io(dir)), 0);

  const r = io(dir);
  assert.equal(await main(['revoke', '--db', 'a.db', '--key', 'auth.key', '--token', 'child.tok', '--reason', 'test'], r), 0, r.err);
  assert.match(r.out, /^revoked: token tip block [0-9a-f]{32} \(registry version 1\)/);
  const again = io(dir);
  assert.equal(await main(['revoke', '--db', 'a.db', '--key', 'auth.key', '--token', 'child.tok'], again), 0);
  assert.match(again.out, /^already revoked/);

  assert.equal(await main(['revocations', 'export', '--db', 'a.db', '--key', 'auth.key', '--out', 'snap.cfr'], io(dir)), 0);
  assert.match(readFileSync(join(dir, 'snap.cfr'), 'utf8'), /^cfr1\./);
  const v = io(dir);
  assert.equal(await main(verify, v), 1);
  assert.match(v.out + v.err, /ERR_REVOKED/);
});

test('capframe revoke: --id, --sub and --before land in the registry; usage errors exit 2', async (t) => {
  const dir = tempDir(t);
  const f = chainFixture();
  writeFileSync(join(dir, 'auth.key'), serializePrivateKey(f.authority), { mode: 0o600 });
  const base = ['revoke', '--db', 'a.db', '--key', 'auth.key'];
  assert.equal(await main([...base, '--id', 'AB'.repeat(16)], io(dir)), 0);
  assert.equal(await main([...base, '--sub', 'agent:x'], io(dir)), 0);
  assert.equal(await main([...base, '--before', '2026-01-01T00:00:00Z'], io(dir)), 0);
  const reg = new RevocationRegistry({ path: join(dir, 'a.db') });
  const view = reg.view();
  reg.close();
  assert.deepEqual(
    view.ids.map((x) => x.id),
    ['ab'.repeat(16)],
  );
  assert.deepEqual(view.subjects, ['agent:x']);
  assert.deepEqual(
    view.cutoffs.map((c) => c.before),
    [1767225600],
  );
  assert.equal(view.version, 3);
  const both = io(dir);
  assert.equal(await main([...base, '--sub', 'a', '--id', 'ab'.repeat(16)], both), 2);
  assert.match(both.err, /exactly one/);
  assert.equal(await main([...base], io(dir)), 2);
  const badId = io(dir);
  assert.equal(await main([...base, '--id', 'xyz'], badId), 1);
  assert.match(badId.err, /ERR_INVALID_ARGUMENT/);
  assert.equal(parseTime('now', 42), 42);
  assert.equal(parseTime('1700000000'), 1700000000);
  assert.throws(() => parseTime('yesterday'), /--before/);
});

test('capframe revoke --token refuses a token of another authority', async (t) => {
  const dir = tempDir(t);
  const mine = chainFixture();
  const theirs = chainFixture();
  writeFileSync(join(dir, 'auth.key'), serializePrivateKey(mine.authority), { mode: 0o600 });
  writeFileSync(join(dir, 'other.tok'), theirs.root.toString());
  const e = io(dir);
  assert.equal(await main(['revoke', '--db', 'a.db', '--key', 'auth.key', '--token', 'other.tok'], e), 1);
  assert.match(e.err, /ERR_UNKNOWN_KEY/);
});
