/** Signed revocation deltas (spec §10.10): chained versions, gaps, refreshes, and the push stream carrying them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { generateKey, Keyring, Verifier } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { SnapshotPublisher } from '../../src/revocation/publisher.ts';
import { startRevocationServer } from '../../src/server/revocation-feed.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { RevocationSync } from '../../src/remote/revocation-sync.ts';
import { buildSnapshot } from '../../src/revocation/snapshot.ts';
import { buildDelta, parseDelta, DELTA_PREFIX } from '../../src/revocation/delta.ts';
import { encode, decodeStrict } from '../../src/token/cbor.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { chainFixture, read, tempDir } from './helpers.ts';

const now = () => Math.floor(Date.now() / 1000);
const id16 = () => new Uint8Array(randomBytes(16));

test('applyDelta: N -> N+1 installs, a gap or nothing held is reported, covered ones ignored, refreshes move iat only', async () => {
  const f = chainFixture();
  const key = f.authority;
  const state = new RevocationState({ trusted: [key.publicKey] });
  const verifier = new Verifier({ trusted: [key.publicKey], revocation: state });
  const rootId = Buffer.from(verifier.verifyToken(f.root).ids[0]!, 'hex');
  const t = now();
  const d12 = buildDelta({ from: 1, version: 2, iat: t, ids: [rootId], subjects: [], cutoffs: [] }, key);
  assert.equal(state.applyDelta(d12.text).outcome, 'gap', 'nothing held yet');
  state.update(buildSnapshot({ version: 1, iat: t - 10, ids: [id16()], subjects: [], cutoffs: [] }, key).text);
  assert.equal((await read(verifier, f.child)).allowed, true);
  const d23 = buildDelta({ from: 2, version: 3, iat: t, ids: [], subjects: ['agent:x'], cutoffs: [] }, key);
  assert.equal(state.applyDelta(d23.text).outcome, 'gap', 'version 2 was never applied');
  assert.equal(state.version, 1);
  assert.deepEqual({ ...state.applyDelta(d12.text), kid: '' }, { outcome: 'installed', version: 2, kid: '' });
  const d = await read(verifier, f.child);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED', 'the cached allow was dropped when the delta installed');
  assert.equal(state.applyDelta(d12.text).outcome, 'ignored');
  assert.equal(state.applyDelta(d23.text).outcome, 'installed');
  assert.equal(state.size, 2);
  const refresh = buildDelta({ from: 3, version: 3, iat: t + 5, ids: [], subjects: [], cutoffs: [] }, key);
  assert.equal(state.applyDelta(refresh.text).outcome, 'refreshed');
  assert.equal(state.issuedAt, t + 5);
  assert.equal(state.applyDelta(refresh.text).outcome, 'ignored');
});

test('parseDelta refuses untrusted keys, bad signatures, future iat, backward versions and refreshes that add', () => {
  const key = generateKey();
  const ring = new Keyring([key.publicKey]);
  const t = now();
  const ok = buildDelta({ from: 4, version: 5, iat: t, ids: [id16(), id16()], subjects: ['b', 'a'], cutoffs: [{ kid: key.kid, before: 9 }] }, key);
  const p = parseDelta(ok.text, ring);
  assert.deepEqual([p.from, p.version, p.ids.length, p.subjects], [4, 5, 32, ['a', 'b']]);
  assert.throws(() => parseDelta(ok.text, new Keyring([generateKey().publicKey])), { code: 'ERR_UNKNOWN_KEY' });
  const env = decodeStrict(ok.bytes) as [Uint8Array, Uint8Array, Uint8Array];
  const payload = Uint8Array.from(env[1]);
  payload[3] = payload[3]! ^ 1;
  assert.throws(() => parseDelta(DELTA_PREFIX + encodeBase64url(encode([env[0], payload, env[2]])), ring), { code: 'ERR_SIGNATURE_INVALID' });
  assert.throws(() => parseDelta(buildDelta({ from: 1, version: 2, iat: t + 3600, ids: [], subjects: [], cutoffs: [] }, key).text, ring, { now: t }), {
    code: 'ERR_NOT_YET_VALID',
  });
  assert.throws(() => buildDelta({ from: 3, version: 2, iat: t, ids: [], subjects: [], cutoffs: [] }, key), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => buildDelta({ from: 3, version: 3, iat: t, ids: [id16()], subjects: [], cutoffs: [] }, key), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => parseDelta('cfr1.AAAA', ring), { code: 'ERR_MALFORMED' });
});

test('the publisher signs one delta per change; applying them reaches the same state as the full snapshot', (t) => {
  const f = chainFixture();
  let clock = now();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db`, clock: () => clock });
  t.after(() => registry.close());
  const publisher = new SnapshotPublisher({ registry, key: f.authority, clock: () => clock, resignAfter: 60 });
  const viaDeltas = new RevocationState({ trusted: [f.authority.publicKey], clock: () => clock });
  viaDeltas.update(publisher.current().text);
  registry.revokeId(randomBytes(16).toString('hex'));
  registry.revokeSubject('agent:gone');
  publisher.refresh();
  const d1 = publisher.latestDelta()!;
  assert.deepEqual([d1.from, d1.version], [0, 2], 'two registry versions read at once: one delta 0 -> 2');
  assert.equal(viaDeltas.applyDelta(d1.text).outcome, 'installed');
  registry.revokeIssuedBefore('CE-g722ykZw', 100);
  registry.revokeIds([randomBytes(16).toString('hex'), randomBytes(16).toString('hex')]);
  publisher.refresh();
  registry.revokeId(randomBytes(16).toString('hex'));
  publisher.refresh();
  const missed = publisher.deltasSince(2)!;
  assert.deepEqual(
    missed.map((d) => [d.from, d.version]),
    [
      [2, 4],
      [4, 5],
    ],
  );
  for (const d of missed) assert.equal(viaDeltas.applyDelta(d.text).outcome, 'installed');
  assert.ok(
    missed.every((d) => d.bytes.length < 400),
    'a delta is a few hundred bytes',
  );
  clock += 61;
  assert.equal(publisher.refresh(), true, 're-signed');
  const refresh = publisher.latestDelta()!;
  assert.deepEqual([refresh.from, refresh.version, refresh.iat], [5, 5, clock]);
  assert.equal(viaDeltas.applyDelta(refresh.text).outcome, 'refreshed');
  assert.equal(publisher.deltasSince(-1), undefined);
  const viaSnapshot = new RevocationState({ trusted: [f.authority.publicKey], clock: () => clock });
  viaSnapshot.update(publisher.current().text);
  assert.deepEqual([viaDeltas.version, viaDeltas.size, viaDeltas.issuedAt], [viaSnapshot.version, viaSnapshot.size, viaSnapshot.issuedAt]);
  for (const id of registry.view().ids) assert.equal(viaDeltas.isRevokedId(id.id), true);
});

/** Reads SSE events from the stream until `n` events arrived; returns them with the bytes received. */
function subscribe(url: string, headers: Record<string, string> = {}) {
  const events: { event: string; id: string; bytes: number }[] = [];
  let waiter: (() => void) | undefined;
  let buf = '';
  const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = /^event: (\w+)$/m.exec(block)?.[1];
        if (ev) events.push({ event: ev, id: /^id: (\d+)$/m.exec(block)?.[1] ?? '', bytes: Buffer.byteLength(block) + 2 });
        waiter?.();
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return {
    events,
    async until(n: number) {
      while (events.length < n)
        await new Promise<void>((r) => {
          waiter = r;
        });
    },
    close() {
      req.destroy();
    },
  };
}

test('the push stream: a snapshot on connect, then a delta per change (< 1 KiB at 10,000 ids); Last-Event-ID resumes with deltas', async (t) => {
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db` });
  t.after(() => registry.close());
  registry.revokeIds(Array.from({ length: 10_000 }, () => randomBytes(16).toString('hex')));
  const server = await startRevocationServer({ registry, key: f.authority, watchMs: 20 });
  t.after(() => server.close());
  const url = `${server.url}/v1/revocations/stream`;
  const s1 = subscribe(url);
  t.after(() => s1.close());
  await s1.until(1);
  assert.equal(s1.events[0]!.event, 'snapshot');
  assert.ok(s1.events[0]!.bytes > 10_000 * 16);
  registry.revokeId(randomBytes(16).toString('hex'));
  await s1.until(2);
  assert.deepEqual([s1.events[1]!.event, s1.events[1]!.id], ['delta', '2']);
  assert.ok(s1.events[1]!.bytes < 1024, `a pushed change is ${s1.events[1]!.bytes} bytes`);
  registry.revokeSubject('agent:x');
  await s1.until(3);

  // A verifier that held version 1 resumes: deltas only, no snapshot.
  const s2 = subscribe(url, { 'last-event-id': '1' });
  t.after(() => s2.close());
  await s2.until(2);
  assert.deepEqual(
    s2.events.map((e) => [e.event, e.id]),
    [
      ['delta', '2'],
      ['delta', '3'],
    ],
  );
  // Unknown history: the snapshot.
  const s3 = subscribe(url, { 'last-event-id': '999' });
  t.after(() => s3.close());
  await s3.until(1);
  assert.equal(s3.events[0]!.event, 'snapshot');
});

test('RevocationSync applies pushed deltas and fetches the snapshot after a gap', async (t) => {
  const f = chainFixture();
  const registry = new RevocationRegistry({ path: `${tempDir(t)}/a.db` });
  t.after(() => registry.close());
  const server = await startRevocationServer({ registry, key: f.authority, watchMs: 20 });
  t.after(() => server.close());
  const state = new RevocationState({ trusted: [f.authority.publicKey] });
  const sync = new RevocationSync({ url: server.url, state, pollInterval: 3600, onError: () => {} });
  t.after(() => sync.stop());
  await sync.start();
  while (!sync.connected) await new Promise((r) => setTimeout(r, 5));
  const verifier = new Verifier({ trusted: [f.authority.publicKey], revocation: state });
  const seen = (v: number) =>
    new Promise<void>((resolve) => {
      if (state.version >= v) {
        resolve();
        return;
      }
      const off = state.onUpdate((r) => {
        if (r.version >= v) {
          off();
          resolve();
        }
      });
    });
  registry.revokeToken(f.child);
  await seen(1);
  const d = await read(verifier, f.grandchild);
  assert.equal(d.allowed ? '' : d.code, 'ERR_REVOKED');
  // A delta from a version this verifier never held: the full snapshot is fetched instead.
  const stray = buildDelta({ from: 7, version: 8, iat: now(), ids: [], subjects: ['agent:stray'], cutoffs: [] }, f.authority);
  assert.equal(state.applyDelta(stray.text).outcome, 'gap');
  registry.revokeSubject('agent:y');
  await seen(2);
  assert.equal(state.version, 2);
});
