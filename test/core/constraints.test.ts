/** Argument constraints: each kind allowed and denied (ERR_CONSTRAINT), along the whole chain, on both paths. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, delegate, issueToken, Verifier, type Constraint, type Grant } from '../../src/index.ts';
import { ALICE, AUTH, BOB, CAROL, T0, assertAllowed, assertDenied, assertThrowsCode, callId, craftDelegation } from './helpers.ts';

const clock = () => T0;
const v = new Verifier({ trusted: [AUTH.publicKey], clock });
const RES = 'files://docs/readme';

function tokenWith(constraints: Record<string, Constraint>, maxDepth = 2) {
  return issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    ttl: 600,
    clock,
    maxDepth,
    grants: [{ resource: 'files://docs/*', permissions: ['read', 'write'], constraints }],
  });
}
const call = (args: Record<string, unknown>, operation = 'read') => ({ tool: 'file_tool', operation, resource: RES, args, callId: callId() });

interface Case {
  c: Constraint;
  ok: unknown[];
  bad: unknown[];
}
const CASES: Record<string, Case> = {
  exact: { c: { type: 'exact', value: 5 }, ok: [5], bad: [6, '5', 5.5, null, true, [5], { v: 5 }] },
  exactString: { c: { type: 'exact', value: 'eu' }, ok: ['eu'], bad: ['EU', 'eu ', '', null] },
  exactNull: { c: { type: 'exact', value: null }, ok: [null], bad: [0, '', false, 'null'] },
  exactBool: { c: { type: 'exact', value: false }, ok: [false], bad: [0, null, 'false', true] },
  oneOf: { c: { type: 'oneOf', values: ['eu', 'us', 3] }, ok: ['eu', 'us', 3], bad: ['EU', 'apac', '3', 4, null, ['eu']] },
  range: { c: { type: 'range', min: 1, max: 100 }, ok: [1, 50, 100, 99.5, 1.0], bad: [0, 0.999, 101, 100.01, -5, '50', null, true, [50]] },
  rangeMin: { c: { type: 'range', min: 0 }, ok: [0, 1e9], bad: [-1, -0.5] },
  rangeMax: { c: { type: 'range', max: -1 }, ok: [-1, -1e9], bad: [0, 5] },
  glob: {
    c: { type: 'glob', pattern: '*@acme.example' },
    ok: ['bob@acme.example', '@acme.example'],
    bad: ['bob@evil.example', 'bob@acme.example.evil', 'bob@acme-example', 42, null],
  },
  globQ: { c: { type: 'glob', pattern: 'report-????.pdf' }, ok: ['report-2026.pdf'], bad: ['report-26.pdf', 'report-20260.pdf', 'xreport-2026.pdf'] },
  prefix: { c: { type: 'prefix', prefix: 'SELECT ' }, ok: ['SELECT 1', 'SELECT * FROM t'], bad: ['select 1', ' SELECT 1', 'DROP TABLE t', 7] },
  pathUnder: {
    c: { type: 'pathUnder', path: '/srv/data' },
    ok: ['/srv/data', '/srv/data/a', '/srv/data/a/b.txt', '/srv/data/...'],
    bad: [
      '/srv/data2',
      '/srv/data/../etc/passwd',
      '/srv/data/./a',
      '/srv/data/a/',
      '//srv/data/a',
      'srv/data/a',
      '/srv/data//a',
      '/srv/data/a\u0000',
      '/srv/data\\..\\etc',
      '/srv',
      '/',
      '',
      5,
      null,
    ],
  },
  pathUnderRoot: { c: { type: 'pathUnder', path: '/' }, ok: ['/', '/etc/x'], bad: ['etc', '/a/../b', ''] },
};

describe('each constraint kind, in-process path', () => {
  for (const [name, { c, ok, bad }] of Object.entries(CASES)) {
    test(`${name}: allowed and denied (ERR_CONSTRAINT), missing argument denied`, async () => {
      const token = tokenWith({ x: c });
      for (const val of ok) assertAllowed(await v.authorize(token, call({ x: val, other: 1 })), `${name} ${JSON.stringify(val)}`);
      for (const val of bad) assertDenied(await v.authorize(token, call({ x: val })), 'ERR_CONSTRAINT', `${name} ${JSON.stringify(val)}`);
      assertDenied(await v.authorize(token, call({})), 'ERR_CONSTRAINT', `${name} missing`);
      assertDenied(await v.authorize(token, call({ X: ok[0] })), 'ERR_CONSTRAINT', `${name} other-case name`);
    });
  }
});

test('signed path applies the same constraints', async () => {
  const token = tokenWith({ limit: { type: 'range', max: 10 }, table: { type: 'oneOf', values: ['users'] } });
  const inv = (args: Record<string, unknown>) => createInvocation(token, { key: ALICE, tool: 'file_tool', operation: 'read', resource: RES, args, clock });
  assertAllowed(await v.verifyInvocation(token, inv({ limit: 10, table: 'users' }), { tool: 'file_tool', args: { limit: 10, table: 'users' } }));
  assertDenied(
    await v.verifyInvocation(token, inv({ limit: 11, table: 'users' }), { tool: 'file_tool', args: { limit: 11, table: 'users' } }),
    'ERR_CONSTRAINT',
  );
  assertDenied(await v.verifyInvocation(token, inv({ limit: 1 }), { tool: 'file_tool', args: { limit: 1 } }), 'ERR_CONSTRAINT');
});

test('all constraints of one grant must hold', async () => {
  const token = tokenWith({ a: { type: 'exact', value: 1 }, b: { type: 'prefix', prefix: 'x' } });
  assertAllowed(await v.authorize(token, call({ a: 1, b: 'xy' })));
  assertDenied(await v.authorize(token, call({ a: 1, b: 'yy' })), 'ERR_CONSTRAINT');
  assertDenied(await v.authorize(token, call({ a: 2, b: 'xy' })), 'ERR_CONSTRAINT');
});

test('constraints added by a child apply to the child, not to the parent', async () => {
  const root = tokenWith({});
  const child = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock, constraints: { limit: { type: 'range', max: 10 } } });
  assertAllowed(await v.authorize(root, call({ limit: 1000 })));
  assertDenied(await v.authorize(child, call({ limit: 1000 })), 'ERR_CONSTRAINT');
  assertDenied(await v.authorize(child, call({})), 'ERR_CONSTRAINT');
  const d = await v.authorize(child, call({ limit: 10 }));
  assertAllowed(d);
  if (d.allowed) assert.deepEqual(d.grant.constraints, { limit: [{ type: 'range', max: 10 }] });
  // grandchild inherits the child's grants, hence its constraints
  const grandchild = delegate(child, { key: BOB, to: CAROL.publicKey, subject: 'agent:carol', clock });
  assertDenied(await v.authorize(grandchild, call({ limit: 11 })), 'ERR_CONSTRAINT');
  assertAllowed(await v.authorize(grandchild, call({ limit: 9 })));
});

test("a parent's constraints still apply when the child's grant omits them (delegate() and hand-crafted)", async () => {
  const root = tokenWith({ region: { type: 'exact', value: 'eu' } });
  const narrowerGrant: Grant = { resource: 'files://docs/readme', permissions: ['read'] };
  const child = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock, grants: [narrowerGrant] });
  assertDenied(await v.authorize(child, call({ region: 'us' })), 'ERR_CONSTRAINT');
  assertDenied(await v.authorize(child, call({})), 'ERR_CONSTRAINT');
  const ok = await v.authorize(child, call({ region: 'eu' }));
  assertAllowed(ok);
  if (ok.allowed) assert.deepEqual(ok.grant.constraints, { region: [{ type: 'exact', value: 'eu' }] });
  const crafted = craftDelegation(root, ALICE, {
    subject: 'agent:bob',
    holder: BOB.publicKey,
    maxDepth: 0,
    grants: [{ resource: 0, permissions: ['read', 'write'] }],
  });
  assertDenied(await v.authorize(crafted, call({ region: 'us' })), 'ERR_CONSTRAINT');
  // child adds a second constraint on the same argument: both must hold
  const both = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock, constraints: { region: { type: 'oneOf', values: ['eu', 'us'] } } });
  assertDenied(await v.authorize(both, call({ region: 'us' })), 'ERR_CONSTRAINT', 'child oneOf is wider but the parent exact still applies');
  const d = await v.authorize(both, call({ region: 'eu' }));
  assertAllowed(d);
  if (d.allowed) assert.equal(d.grant.constraints.region?.length, 2);
});

test('a grant without constraints for the same resource does not bypass a constrained one in another block', async () => {
  // root: two grants on the same resource, one constrained for write only
  const root = issueToken({
    key: AUTH,
    subject: 'a',
    holder: ALICE.publicKey,
    ttl: 600,
    clock,
    maxDepth: 1,
    grants: [
      { resource: 'files://docs/*', permissions: ['read'] },
      { resource: 'files://docs/*', permissions: ['write'], constraints: { size: { type: 'range', max: 100 } } },
    ],
  });
  assertAllowed(await v.authorize(root, call({ size: 1e6 }, 'read')));
  assertDenied(await v.authorize(root, call({ size: 1e6 }, 'write')), 'ERR_CONSTRAINT');
  assertAllowed(await v.authorize(root, call({ size: 100 }, 'write')));
});

test('an argument named __proto__ can be constrained, and the constraint holds', async () => {
  const token = issueToken({
    key: AUTH,
    subject: 'a',
    holder: ALICE.publicKey,
    ttl: 600,
    clock,
    grants: [{ resource: 'files://docs/*', permissions: ['read'], constraints: JSON.parse('{"__proto__": {"type": "exact", "value": 1}}') }],
  });
  assertDenied(await v.authorize(token, call(JSON.parse('{"__proto__": 2}'))), 'ERR_CONSTRAINT');
  assertDenied(await v.authorize(token, call({})), 'ERR_CONSTRAINT');
  assertAllowed(await v.authorize(token, call(JSON.parse('{"__proto__": 1}'))));
});

test('invalid constraints are refused at issue and delegation time: ERR_INVALID_ARGUMENT', () => {
  const bad: unknown[] = [
    { type: 'nope' },
    { type: 'range' },
    { type: 'range', min: 5, max: 1 },
    { type: 'range', min: 1.5 },
    { type: 'pathUnder', path: 'relative' },
    { type: 'pathUnder', path: '/a/../b' },
    { type: 'pathUnder', path: '/a/' },
    { type: 'oneOf', values: [] },
    { type: 'oneOf', values: [{}] },
    { type: 'exact', value: 1.5 },
    { type: 'exact', value: {} },
    { type: 'glob', pattern: 5 },
    { type: 'prefix' },
    { type: 'exact', value: 'x'.repeat(257) },
    null,
    'exact',
  ];
  for (const c of bad) {
    assertThrowsCode(() => tokenWith({ x: c as Constraint }), 'ERR_INVALID_ARGUMENT', JSON.stringify(c));
  }
  assertThrowsCode(() => tokenWith({ 'bad name': { type: 'exact', value: 1 } }), 'ERR_INVALID_ARGUMENT');
  assertThrowsCode(() => tokenWith({ '1x': { type: 'exact', value: 1 } }), 'ERR_INVALID_ARGUMENT');
  const root = tokenWith({});
  assertThrowsCode(
    () => delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'b', clock, constraints: { x: { type: 'range' } as Constraint } }),
    'ERR_INVALID_ARGUMENT',
  );
});
