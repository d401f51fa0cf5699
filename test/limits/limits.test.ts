/**
 * Rate limits and budgets (docs/spec.md §14) with the in-memory and SQLite
 * counters: every limited block of the chain is charged, a parent's budget
 * bounds its children together, windows reset at their end (injected clock),
 * sums are exact decimals, attenuation only tightens, a failing store denies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken, delegate, Verifier, MemoryLimitStore, errors, type Decision, type Grant, type LocalCall } from '../../src/index.ts';
import { SqliteReplayStore } from '../../src/verify/replay-sqlite.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { key, makeClock, T0 } from '../core/helpers.ts';

const { LimitError } = errors;
type LimitError = InstanceType<typeof LimitError>;

const authority = key(1);
const agent = key(2);
const child1 = key(3);
const child2 = key(4);

let n = 0;
const call = (args: Record<string, unknown> = {}, tool = 'pay'): LocalCall => ({
  tool,
  operation: 'write',
  resource: 'bank://acct/1',
  args,
  callId: `c${n++}`,
});

function root(extra: Partial<Grant>, clock = makeClock()) {
  return issueToken({
    key: authority,
    subject: 'agent:a',
    holder: agent.publicKey,
    grants: [{ resource: 'bank://acct/*', permissions: ['write'], ...extra }],
    ttl: '1d',
    maxDepth: 3,
    clock,
  });
}

/** The limit an ERR_LIMIT decision reports. */
function lim(d: Decision | undefined): NonNullable<LimitError['limit']> {
  assert.ok(d && !d.allowed && d.error instanceof LimitError, `expected ERR_LIMIT, got ${d?.allowed ? 'allowed' : d?.code}`);
  return (d.error as LimitError).limit!;
}

function codes(ds: readonly Decision[]): string[] {
  return ds.map((d) => (d.allowed ? 'ok' : d.code));
}

test('a rate limit allows N calls per fixed window and resets at the window end (injected clock)', async () => {
  const clock = makeClock(T0 - (T0 % 3600)); // the start of an hour window
  const token = root({ rate: { calls: 3, per: '1h' } }, clock);
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const ds = [];
  for (let i = 0; i < 4; i++) ds.push(await v.authorize(token, call()));
  assert.deepEqual(codes(ds), ['ok', 'ok', 'ok', 'ERR_LIMIT']);
  assert.deepEqual(lim(ds[3]), { block: 0, blockId: decodeChain(token).ids[0], grant: 0, kind: 'rate', limit: '3', per: 3600, resetsAt: clock.now + 3600 });
  clock.advance(3599);
  assert.equal((await v.authorize(token, call())).allowed, false, 'one second before the end: still used up');
  clock.advance(1);
  assert.equal((await v.authorize(token, call())).allowed, true, 'at the window end the counter starts again');
});

test('counter keys and ERR_LIMIT details kept between calls follow the window, the chain and the verifier', async () => {
  const clock = makeClock(T0 - (T0 % 60));
  const token = root({ rate: { calls: 2, per: 60 }, budget: { arg: 'amount', total: '5', per: 60 } }, clock);
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const other = new Verifier({ trusted: [authority.publicKey], clock, clockSkew: 5 });
  for (let w = 0; w < 3; w++) {
    // Each window: two calls, the third refused with this window's reset time, for both verifiers alike.
    for (const ver of [v, other]) {
      assert.equal((await ver.authorize(token, call({ amount: 1 }))).allowed, true, `window ${w}`);
      assert.equal((await ver.authorize(token, call({ amount: 1 }))).allowed, true, `window ${w}`);
      const d = await ver.authorize(token, call({ amount: 1 }));
      assert.deepEqual({ kind: lim(d).kind, resetsAt: lim(d).resetsAt }, { kind: 'rate', resetsAt: clock.now - (clock.now % 60) + 60 }, `window ${w}`);
    }
    clock.advance(w === 1 ? 30 : 60);
    if (w === 1) clock.advance(30);
  }
  // A budget used up in one window is refused with the budget's details, and its window's reset time.
  clock.advance(60);
  const big = await v.authorize(token, call({ amount: 6 }));
  assert.equal(big.allowed ? 'ok' : big.code, 'ERR_LIMIT');
  assert.deepEqual({ kind: lim(big).kind, resetsAt: lim(big).resetsAt, limit: lim(big).limit }, { kind: 'budget', resetsAt: clock.now + 60, limit: '5' });
});

test('a parent budget bounds both children together; a child budget bounds only that child', async () => {
  const clock = makeClock();
  const token = root({ budget: { arg: 'amount', total: '100' } }, clock);
  const c1 = delegate(token, { key: agent, to: child1.publicKey, subject: 'agent:c1', clock });
  const c2 = delegate(token, { key: agent, to: child2.publicKey, subject: 'agent:c2', clock, budget: { arg: 'amount', total: '30' } });
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  assert.equal((await v.authorize(c2, call({ amount: 30 }))).allowed, true);
  const over = await v.authorize(c2, call({ amount: 1 }));
  assert.equal(over.allowed ? 'ok' : over.code, 'ERR_LIMIT');
  assert.equal(lim(over).block, 1, "the child's own budget is used up first");
  assert.equal((await v.authorize(c1, call({ amount: 60 }))).allowed, true);
  assert.equal((await v.authorize(token, call({ amount: 10 }))).allowed, true);
  const d = await v.authorize(c1, call({ amount: 0.5 }));
  assert.equal(d.allowed ? 'ok' : d.code, 'ERR_LIMIT');
  assert.equal(lim(d).block, 0, "the root's budget: 30 + 60 + 10 = 100");
  assert.equal(lim(d).resetsAt, undefined, 'a budget without per never resets');
  assert.equal((await v.authorize(c1, call({ amount: 0 }))).allowed, true, 'a zero amount fits');
});

test('a child without grants of its own is counted under the block that wrote the grant, once', async () => {
  const clock = makeClock(T0 - (T0 % 60));
  const token = root({ rate: { calls: 4, per: 60 } }, clock);
  const mid = delegate(token, { key: agent, to: child1.publicKey, subject: 'agent:mid', clock });
  const tip = delegate(mid, { key: child1, to: child2.publicKey, subject: 'agent:tip', clock });
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const ds = [];
  for (const t of [tip, mid, tip, token, tip]) ds.push(await v.authorize(t, call()));
  assert.deepEqual(codes(ds), ['ok', 'ok', 'ok', 'ok', 'ERR_LIMIT']);
});

test('exact decimal sums: 0.1 + 0.2 uses up a budget of 0.3 exactly', async () => {
  const clock = makeClock();
  const token = root({ budget: { arg: 'amount', total: '0.3' } }, clock);
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const ds = [];
  for (const amount of [0.1, 0.2, 0.000000000000000001]) ds.push(await v.authorize(token, call({ amount })));
  assert.deepEqual(codes(ds), ['ok', 'ok', 'ERR_LIMIT']);
  const t2 = root({ budget: { arg: 'amount', total: '0.3' } }, clock);
  assert.equal((await v.authorize(t2, call({ amount: 0.1 + 0.2 }))).allowed, false, '0.30000000000000004 is above 0.3');
  assert.equal((await v.authorize(t2, call({ amount: '0.30' }))).allowed, true, 'decimal strings are exact too');
});

test('budget arguments that are not an amount do not match the grant (ERR_CONSTRAINT), and are not charged', async () => {
  const clock = makeClock();
  const token = root({ budget: { arg: 'items[].price', total: '10' } }, clock);
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const bad = [{}, { items: [{ price: -1 }] }, { items: [{ price: 'x' }] }, { items: [{ price: 1e-19 }] }, { items: [{}] }];
  for (const args of bad) {
    const d = await v.authorize(token, call(args));
    assert.equal(d.allowed ? 'ok' : d.code, 'ERR_CONSTRAINT', JSON.stringify(args));
  }
  assert.equal((await v.authorize(token, call({ items: [{ price: 4 }, { price: '6' }] }))).allowed, true, 'every element is summed');
  assert.equal((await v.authorize(token, call({ items: [] }))).allowed, true, 'an empty list adds nothing');
  assert.equal((await v.authorize(token, call({ items: [{ price: 0.01 }] }))).allowed, false);
});

test('a call that fails another check is not charged; a denied charge charges no block', async () => {
  const clock = makeClock(T0 - (T0 % 60));
  const token = root({ rate: { calls: 2, per: 60 } }, clock);
  const c = delegate(token, { key: agent, to: child1.publicKey, subject: 'agent:c', clock, rate: { calls: 1, per: 60 } });
  const v = new Verifier({ trusted: [authority.publicKey], clock });
  const same = call();
  assert.equal((await v.authorize(c, same)).allowed, true);
  assert.equal((await v.authorize(c, same)).allowed ? 'ok' : 'replay', 'replay', 'a replay is refused before the limits');
  const d = await v.authorize(c, call());
  assert.equal(lim(d).block, 1);
  // The child's refused call charged nothing to the root: the root still has one call left.
  assert.equal((await v.authorize(token, call())).allowed, true);
  assert.equal((await v.authorize(token, call())).allowed, false);
  const wrong = await v.authorize(token, { ...call(), resource: 'bank://other/1' });
  assert.equal(wrong.allowed ? 'ok' : wrong.code, 'ERR_SCOPE_RESOURCE');
});

test('attenuation only tightens: a wider rate or budget is refused when delegating', () => {
  const clock = makeClock();
  const token = root({ rate: { calls: 10, per: '1h' }, budget: { arg: 'amount', total: '50', per: '1d' } }, clock);
  const widen = (o: object) => () => delegate(token, { key: agent, to: child1.publicKey, subject: 'agent:c', clock, ...o });
  assert.throws(widen({ rate: { calls: 11, per: '1h' } }), { code: 'ERR_ATTENUATION' });
  assert.throws(widen({ rate: { calls: 10, per: '59m' } }), { code: 'ERR_ATTENUATION' });
  assert.throws(widen({ budget: { arg: 'amount', total: '50.000001', per: '1d' } }), { code: 'ERR_ATTENUATION' });
  assert.throws(widen({ budget: { arg: 'amount', total: '50', per: '1h' } }), { code: 'ERR_ATTENUATION' });
  widen({ rate: { calls: 5, per: '2h' } })();
  widen({ budget: { arg: 'amount', total: '20' } })(); // no per: the whole life, longer than a day
  widen({ budget: { arg: 'fee', total: '1000' } })(); // another argument: an extra limit
  widen({})(); // leaving a limit out: the parent's block is still charged
  const lifetime = root({ budget: { arg: 'amount', total: '50' } }, clock);
  assert.throws(() => delegate(lifetime, { key: agent, to: child1.publicKey, subject: 'c', clock, budget: { arg: 'amount', total: '1', per: 60 } }), {
    code: 'ERR_ATTENUATION',
  });
});

test('a limit store that fails denies the call with ERR_UNAVAILABLE; a full memory store too', async () => {
  const clock = makeClock();
  const token = root({ rate: { calls: 10, per: 60 } }, clock);
  const broken = new Verifier({
    trusted: [authority.publicKey],
    clock,
    limits: {
      chargeLimits() {
        throw new Error('disk on fire');
      },
    },
  });
  const d = await broken.authorize(token, call());
  assert.equal(d.allowed ? 'ok' : d.code, 'ERR_UNAVAILABLE');
  const rejecting = new Verifier({ trusted: [authority.publicKey], clock, limits: { chargeLimits: () => Promise.reject(new Error('down')) } });
  const r = await rejecting.authorize(token, call());
  assert.equal(r.allowed ? 'ok' : r.code, 'ERR_UNAVAILABLE');
  const odd = new Verifier({ trusted: [authority.publicKey], clock, limits: { chargeLimits: () => 7 } });
  const o = await odd.authorize(token, call());
  assert.equal(o.allowed ? 'ok' : o.code, 'ERR_UNAVAILABLE');
  const full = new Verifier({ trusted: [authority.publicKey], clock, limits: new MemoryLimitStore(1) });
  assert.equal((await full.authorize(token, call())).allowed, true);
  const other = root({ rate: { calls: 10, per: 60 } }, clock);
  const f = await full.authorize(other, call());
  assert.equal(f.allowed ? 'ok' : f.code, 'ERR_UNAVAILABLE');
});

test('a shared replay store without counters gets no limit store: tokens with limits are denied (ERR_CONFIG), others pass', async () => {
  const clock = makeClock();
  const replay = { shared: true, checkAndRecord: () => true };
  const v = new Verifier({ trusted: [authority.publicKey], clock, replay });
  const d = await v.authorize(root({ rate: { calls: 10, per: 60 } }, clock), call());
  assert.equal(d.allowed ? 'ok' : d.code, 'ERR_CONFIG');
  assert.equal((await v.authorize(root({}, clock), call())).allowed, true);
});

test('SQLite: two verifiers on one file share the counters', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = makeClock(T0 - (T0 % 60));
  const stores = [new SqliteReplayStore({ path: join(dir, 'r.db') }), new SqliteReplayStore({ path: join(dir, 'r.db') })];
  t.after(() => stores.forEach((s) => s.close()));
  const vs = stores.map((replay) => new Verifier({ trusted: [authority.publicKey], clock, replay }));
  assert.equal(vs[0]!.limits, stores[0], 'the replay store keeps the counters');
  const token = root({ rate: { calls: 3, per: 60 }, budget: { arg: 'amount', total: '0.3', per: 60 } }, clock);
  const ds = [];
  for (let i = 0; i < 4; i++) ds.push(await vs[i % 2]!.authorize(token, call({ amount: 0.1 })));
  assert.deepEqual(codes(ds), ['ok', 'ok', 'ok', 'ERR_LIMIT']);
  clock.advance(60);
  assert.equal((await vs[1]!.authorize(token, call({ amount: 0.3 }))).allowed, true, 'a new window');
  stores[0]!.close();
  const closed = await vs[0]!.authorize(token, call({ amount: 0 }));
  assert.equal(closed.allowed ? 'ok' : closed.code, 'ERR_UNAVAILABLE');
});
