/** The PostgreSQL registry against the real server: API, concurrent migrations, NOTIFY fan-out, catch-up, CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey, Keyring, serializePrivateKey } from '../../src/index.ts';
import { PgRevocationRegistry } from '../../src/revocation/pg-registry.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { parseSnapshot } from '../../src/revocation/snapshot.ts';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';
import { chainFixture, tempDir } from './helpers.ts';
import { pgTarget } from './pg-helpers.ts';

const hex = () => randomBytes(16).toString('hex');

function waitFor(reg: PgRevocationRegistry, version: number, ms = 5000): Promise<void> {
  if (reg.version >= version) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reg.off('change', on);
      reject(new Error(`version ${version} not seen within ${ms} ms (at ${reg.version})`));
    }, ms);
    const on = (v: number) => {
      if (v >= version) {
        clearTimeout(timer);
        reg.off('change', on);
        resolve();
      }
    };
    reg.on('change', on);
  });
}

test('PostgreSQL registry: the same revocations, versions and views as the SQLite one', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const f = chainFixture();
  const reg = await PgRevocationRegistry.open({ url: pg.url });
  t.after(() => reg.close());
  assert.equal(reg.version, 0);
  const a = hex();
  assert.deepEqual(await reg.revokeId(a, { reason: 'test' }), { changed: true, target: a, version: 1 });
  assert.deepEqual(await reg.revokeId(a), { changed: false, target: a, version: 1 });
  await reg.revokeSubject('agent:gone');
  const tip = await reg.revokeToken(f.child, { trusted: new Keyring([f.authority.publicKey]) });
  assert.equal(tip.version, 3);
  assert.equal((await reg.revokeIssuedBefore('CE-g722ykZw', 100)).changed, true);
  assert.equal((await reg.revokeIssuedBefore('CE-g722ykZw', 50)).changed, false, 'an earlier cut-off changes nothing');
  assert.equal((await reg.revokeIds([hex(), hex(), a])).version, 5);
  await assert.rejects(reg.revokeId('zz'), { code: 'ERR_INVALID_ARGUMENT' });
  assert.equal(reg.version, 5);
  assert.equal(await reg.currentVersion(), 5);
  const v = reg.view();
  assert.equal(v.ids.length, 4);
  assert.ok(v.ids.every((r, i) => i === 0 || r.seq > v.ids[i - 1]!.seq));
  assert.ok(v.ids.find((r) => r.id === tip.target)!.expiresAt! > 0, 'a verified token keeps its expiry');
  assert.deepEqual(v.subjects, ['agent:gone']);
  assert.deepEqual(v.cutoffs, [{ kid: 'CE-g722ykZw', before: 100 }]);
  assert.equal(reg.view(v.ids[1]!.seq).ids.length, 2);
  // A console page: the newest ids first, bounded, with the totals.
  const page = reg.page(2);
  assert.deepEqual(page.totals, { ids: 4, subjects: 1, cutoffs: 1 });
  assert.deepEqual(
    page.ids.map((r) => r.seq),
    [v.ids[3]!.seq, v.ids[2]!.seq],
  );
  assert.deepEqual([page.version, page.subjects, page.cutoffs], [5, ['agent:gone'], [{ kid: 'CE-g722ykZw', before: 100 }]]);
  // The snapshot publisher runs on it unchanged.
  const snap = new SnapshotPublisher({ registry: reg, key: f.authority }).current();
  const parsed = parseSnapshot(snap.text, new Keyring([f.authority.publicKey]));
  assert.deepEqual([parsed.version, parsed.ids.length / 16, parsed.subjects], [5, 4, ['agent:gone']]);
});

test('PostgreSQL registry: 8 replicas starting at once on a fresh schema all migrate safely', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const regs = await Promise.all(Array.from({ length: 8 }, () => PgRevocationRegistry.open({ url: pg.url, maxConnections: 1 })));
  t.after(() => Promise.all(regs.map((r) => r.close())));
  const results = await Promise.all(regs.map((r) => r.revokeId(hex())));
  assert.deepEqual(
    results.map((r) => r.version).sort((x, y) => x - y),
    [1, 2, 3, 4, 5, 6, 7, 8],
    'one version per change, none skipped or reused',
  );
  await Promise.all(regs.map((r) => waitFor(r, 8)));
  for (const r of regs) assert.equal(r.view().ids.length, 8);
});

test('PostgreSQL registry: a revocation on one replica reaches another by NOTIFY; a disconnected replica catches up by version', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const app = `capframe-test-${randomBytes(4).toString('hex')}`;
  // No version poll: only NOTIFY and the reconnect catch-up can move replica B.
  const a = await PgRevocationRegistry.open({ url: pg.url, pollMs: 0 });
  const b = await PgRevocationRegistry.open({ url: pg.url, pollMs: 0, applicationName: app, onError: () => {} });
  t.after(() => Promise.all([a.close(), b.close()]));
  const seen = waitFor(b, 1);
  const started = Date.now();
  await a.revokeId(hex());
  await seen;
  assert.ok(Date.now() - started < 5000);

  // Cut every connection of B; revocations happen while it is away.
  await pg.admin((sql) => sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${app}`);
  await a.revokeId(hex());
  await a.revokeSubject('agent:offline');
  await waitFor(b, 3, 15_000);
  assert.equal(b.view().ids.length, 2);
  assert.deepEqual(b.view().subjects, ['agent:offline']);
});

test('capframe revoke --db postgres://…?schema=… records the revocation', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const dir = tempDir(t);
  writeFileSync(join(dir, 'auth.key'), serializePrivateKey(generateKey()), { mode: 0o600 });
  const o = {
    out: '',
    err: '',
    env: {},
    cwd: dir,
    stdout(s: string) {
      o.out += s;
    },
    stderr(s: string) {
      o.err += s;
    },
  } as Io & { out: string; err: string };
  const id = hex();
  assert.equal(await main(['revoke', '--db', pg.url, '--key', 'auth.key', '--id', id], o), 0, o.err);
  assert.match(o.out, new RegExp(`^revoked: block id ${id} \\(registry version 1\\)`));
  const e = {
    ...o,
    out: '',
    err: '',
    stdout(s: string) {
      e.out += s;
    },
    stderr(s: string) {
      e.err += s;
    },
  };
  assert.equal(await main(['revocations', 'export', '--db', pg.url, '--key', 'auth.key', '--out', '-'], e), 0, e.err);
  assert.match(e.out, /^cfr1\./);
  assert.match(e.err, /version 1: 1 ids/);
});
