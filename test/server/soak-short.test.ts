// A short run of `npm run soak` (bench/soak.ts): valid calls at a fixed rate plus hostile bursts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../bench/soak.ts';

test('soak (short): every valid call allowed under hostile bursts; the service survives and its audit chain holds', async () => {
  const r = await runSoak({ seconds: 3, rate: 100, clients: 4, burstEvery: 1, burstSize: 24, headersTimeoutMs: 800, requestTimeoutMs: 1_500 });
  assert.deepEqual(r.valid.failures, []);
  assert.equal(r.valid.failed, 0);
  assert.ok(r.valid.sent >= 250, `sent ${r.valid.sent}`);
  assert.equal(r.valid.allowed, r.valid.sent);
  assert.ok(r.hostile.sent >= 48);
  assert.equal(r.hostile.other, 0);
  assert.ok(r.hostile.answered4xx > 0 && r.hostile.cutOff > 0);
  assert.equal(r.alive, true);
  assert.equal(r.healthy, true);
  assert.equal(r.auditOk, true);
  assert.ok(r.auditLines >= r.valid.sent + 200);
  assert.ok(r.rssStart > 0 && r.rssEnd > 0);
  assert.equal(r.pass, true);
});
