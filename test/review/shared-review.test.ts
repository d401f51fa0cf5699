/**
 * Review of the shared-state code (replay stores, per-authority revocation,
 * PostgreSQL registry, per-address limits): one test per finding, each
 * failing before its fix. Real PostgreSQL (its own schema), real TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { generateKey, Keyring, Verifier } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { startRevocationServer } from '../../src/server/revocation-feed.ts';
import { PgRevocationRegistry } from '../../src/revocation/pg-registry.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { clientAddress } from '../../src/server/limits.ts';
import { chainFixture, read } from '../revocation/helpers.ts';
import { pgTarget } from '../revocation/pg-helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay to PostgreSQL that can be cut (a network partition between one replica and the database) and restored. */
async function relay(target: { host: string; port: number }) {
  let up = true;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      up = false;
      for (const s of open) s.destroy();
    },
    restore() {
      up = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

test('PostgreSQL replica cut off from the database stops vouching for its stale list: a token revoked on another replica is denied, not allowed', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  const f = chainFixture();
  const trusted = new Keyring([f.authority.publicKey]);
  let now = Math.floor(Date.now() / 1000);
  const clock = () => now;
  // Replica 1 reaches PostgreSQL directly; replica 2 through a relay that the test cuts.
  const one = await PgRevocationRegistry.open({ url: pg.url, pollMs: 0 });
  const base = new URL(pg.url);
  const r = await relay({ host: base.hostname, port: Number(base.port || 5432) });
  base.port = String(r.port);
  const two = await PgRevocationRegistry.open({ url: base.toString(), pollMs: 50, clock, maxConnections: 1, onError: () => {} });
  t.after(async () => {
    r.restore();
    await two.close();
    await r.close();
    await one.close();
  });
  // Replica 2's service: its publisher feeds its own verifier's revocation state (as src/server/revocation.ts does).
  const publisher = new SnapshotPublisher({ registry: two, key: f.authority, clock });
  const state = new RevocationState({ trusted, clock });
  const verifier = new Verifier({ trusted, revocation: state, clock });
  const kid = kidToString(f.authority.kid);
  const sync = () => {
    try {
      publisher.refresh();
      const deltas = publisher.deltasSince(state.versionOf(kid));
      if (deltas) for (const d of deltas) state.applyDelta(d.text);
      else state.update(publisher.current().text);
    } catch {
      // A refresh that fails leaves the state as it was: it goes stale and denies.
    }
  };
  sync();
  assert.equal((await read(verifier, f.child)).allowed, true);

  r.cut();
  await one.revokeToken(f.child, { trusted });
  await sleep(300); // replica 2's polls fail meanwhile
  assert.equal(two.version, 0, 'replica 2 cannot have seen the revocation');
  // Time passes beyond the snapshot bound; replica 2 keeps trying to re-sign as it would every minute.
  for (let i = 0; i < 8; i++) {
    now += 60;
    sync();
  }
  const cutOff = await read(verifier, f.child);
  assert.equal(cutOff.allowed, false, 'a replica that cannot reach the registry must not keep signing its old list as fresh');
  assert.equal(!cutOff.allowed && cutOff.code, 'ERR_REVOCATION_STALE');

  // Reconnected, it catches up and the token is denied as revoked.
  r.restore();
  for (let i = 0; i < 100 && two.version < 1; i++) await sleep(50);
  sync();
  const back = await read(verifier, f.child);
  assert.equal(!back.allowed && back.code, 'ERR_REVOKED');
});

test('PostgreSQL registry whose version goes backwards (a restored database) is not vouched for: view() refuses once unconfirmed', async (t) => {
  const pg = await pgTarget(t);
  if (!pg) return;
  let now = Math.floor(Date.now() / 1000);
  const errors: unknown[] = [];
  const reg = await PgRevocationRegistry.open({ url: pg.url, pollMs: 50, clock: () => now, onError: (e) => errors.push(e) });
  t.after(() => reg.close());
  await reg.revokeId('11'.repeat(16));
  await reg.revokeId('22'.repeat(16));
  assert.equal(reg.view().version, 2);
  await pg.admin((sql) => sql.unsafe(`UPDATE "${pg.schema}".state SET version = 1`));
  for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(20);
  assert.ok(errors.length > 0, 'the step back is reported');
  now += 11;
  assert.throws(() => reg.view(), { code: 'ERR_UNAVAILABLE' });
});

test('per-address limits count an IPv6 client by its /64: rotating through its own addresses gives it no further allowance', () => {
  const key = (remoteAddress: string) => clientAddress({ remoteAddress });
  const a = key('2001:db8:1:2::1');
  for (const other of [
    '2001:db8:1:2::2',
    '2001:db8:1:2:ffff:ffff:ffff:fffe',
    '2001:DB8:1:2:0:0:0:7',
    '2001:db8:0001:0002::9%eth0',
    '2001:db8:1:2::192.0.2.1',
  ]) {
    assert.equal(key(other), a, `${other} is in the same /64 as 2001:db8:1:2::1`);
  }
  assert.notEqual(key('2001:db8:1:3::1'), a, 'another /64 is another client');
  assert.notEqual(key('::1'), a);
  assert.equal(key('::1'), key('0:0:0:0:0:0:0:1'));
  assert.equal(key('::ffff:192.0.2.7'), '192.0.2.7', 'IPv4-mapped addresses count as IPv4');
  assert.equal(key('192.0.2.7'), '192.0.2.7');
});

test('GET /v1/revocations: clients that ask for a 100,000-id snapshot and never read cost no copy of it each', async (t) => {
  const registry = new RevocationRegistry({ path: ':memory:' });
  t.after(() => registry.close());
  registry.revokeIds(Array.from({ length: 100_000 }, () => randomBytes(16).toString('hex')));
  const srv = await startRevocationServer({ registry, key: generateKey() });
  t.after(() => srv.close());
  let answered = 0;
  // Listeners run in order: the server's own handler has answered when this one runs.
  srv.server.on('request', () => answered++);
  const size = (await fetch(srv.url + '/v1/revocations').then((r) => r.arrayBuffer())).byteLength;
  assert.ok(size > 2_000_000, `the snapshot text is ${size} bytes`);
  answered = 0;
  const before = process.memoryUsage();
  const clients: Socket[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  const n = 64;
  for (let i = 0; i < n; i++) {
    const c = connect(srv.port, '127.0.0.1');
    c.on('error', () => {});
    c.write('GET /v1/revocations HTTP/1.1\r\nHost: x\r\n\r\n');
    c.pause(); // never reads: the answer stays queued on the server
    clients.push(c);
  }
  for (let i = 0; i < 1500 && answered < n; i++) await sleep(20); // up to 30 s on a loaded machine
  assert.equal(answered, n);
  await sleep(200);
  const after = process.memoryUsage();
  // On loopback the kernel takes most of each answer; what it does not take stays in this process
  // (about 0.5 MB per client when each answer is a copy, nothing per client when they share one).
  const grown = after.rss - before.rss;
  assert.ok(grown < (n * size) / 20, `${n} stalled clients grew memory by ${(grown / 1e6).toFixed(1)} MB (one snapshot is ${(size / 1e6).toFixed(1)} MB)`);
});
