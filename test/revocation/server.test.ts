import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKey, Verifier } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { createRevocationHandler, startRevocationServer } from '../../src/server/revocation-feed.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { RevocationSync } from '../../src/remote/revocation-sync.ts';
import { chainFixture, read, tempDir } from './helpers.ts';

test('the handler serves the snapshot, refuses other methods and leaves other paths alone', async (t) => {
  const key = generateKey();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db` });
  const handler = createRevocationHandler({ registry, key });
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('mine');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    handler.close();
    server.close();
    server.closeAllConnections();
    registry.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  registry.revokeSubject('agent:x');
  const got = await fetch(`${base}/v1/revocations`);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('x-capframe-revocation-version'), '1');
  const state = new RevocationState({ trusted: [key.publicKey] });
  assert.deepEqual(state.update(await got.text()), { outcome: 'installed', version: 1, kid: kidToString(key.kid) });
  assert.equal((await fetch(`${base}/v1/revocations`, { method: 'POST' })).status, 405);
  const other = await fetch(`${base}/v1/other`);
  assert.deepEqual([other.status, await other.text()], [418, 'mine']);
});

test('RevocationSync: a poll-only client is refreshed by refresh(); a stream client by the push', async (t) => {
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db` });
  const srv = await startRevocationServer({ registry, key: f.authority });
  t.after(async () => {
    await srv.close();
    registry.close();
  });

  const polled = new RevocationState({ trusted: [f.authority.publicKey] });
  const pollSync = new RevocationSync({ url: srv.url, state: polled, stream: false, pollInterval: 3600 });
  const pushed = new RevocationState({ trusted: [f.authority.publicKey] });
  const pushSync = new RevocationSync({ url: srv.url, state: pushed, pollInterval: 3600 });
  t.after(() => {
    pollSync.stop();
    pushSync.stop();
  });
  assert.equal((await pollSync.start()).version, 0);
  await pushSync.start();

  const update = new Promise<number>((resolve) =>
    pushed.onUpdate((r) => {
      if (r.version === 1) resolve(r.version);
    }),
  );
  registry.revokeToken(f.child);
  assert.equal(await update, 1, 'pushed without a poll');
  const v = new Verifier({ trusted: [f.authority.publicKey], revocation: pushed });
  const d = await read(v, f.grandchild);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');

  assert.equal(polled.version, 0, 'the poll-only client has not polled yet');
  assert.equal((await pollSync.refresh()).version, 1);
  assert.equal(srv.handler.subscribers, 1);
});

test('RevocationSync reports an unreachable authority and the state stays stale (fail closed)', async () => {
  const f = chainFixture();
  const state = new RevocationState({ trusted: [f.authority.publicKey] });
  const errors: unknown[] = [];
  const sync = new RevocationSync({ url: 'http://127.0.0.1:9', state, stream: false, onError: (e) => errors.push(e) });
  await assert.rejects(sync.start());
  sync.stop();
  const d = await read(new Verifier({ trusted: [f.authority.publicKey], revocation: state }), f.root);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOCATION_STALE');
});
