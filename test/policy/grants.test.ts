/**
 * Policy language v1.1 (docs/spec.md §3.2, §6): tool-bound grants, closed
 * arguments, argument paths and the new kinds, end to end through issue,
 * delegate and the verifier; escalation attempts refused at delegation and,
 * for hand-made blocks, at verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError, delegate, issueToken, Verifier, type Grant } from '../../src/index.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { compileRegex } from '../../src/token/policy/regex.ts';
import { admits, validateConstraint } from '../../src/token/constraints.ts';
import { T0, key, craftDelegation, assertAllowed, assertDenied } from '../core/helpers.ts';

const AUTH = key(41),
  ALICE = key(42),
  BOB = key(43);
const clock = () => T0;
let n = 0;
const isCode = (code: string) => (e: unknown) => e instanceof CapframeError && e.code === code;
const issue = (grants: Grant[], maxDepth = 2) => issueToken({ key: AUTH, subject: 'agent:a', holder: ALICE.publicKey, grants, ttl: 3600, maxDepth, clock });
const v = () => new Verifier({ trusted: [AUTH.publicKey], clock });
const call = (tool: string, args: Record<string, unknown>, resource = 'bank://accounts/me', operation = 'transfer') => ({
  tool,
  operation,
  resource,
  args,
  callId: `c${++n}`,
});

const MONEY: Grant = {
  resource: 'bank://accounts/me',
  permissions: ['transfer'],
  tools: ['send_money'],
  closed: true,
  constraints: {
    recipient: { type: 'oneOf', values: ['GB29NWBK60161331926819'] },
    amount: { type: 'decimal', min: '0.01', max: '10.5' },
    subject: { type: 'length', max: 140 },
  },
};

test('a tool-bound grant covers only its tools; version 1 tokens stay version 1', async () => {
  const t = issue([MONEY]);
  assert.equal(decodeChain(t).version, 2);
  assert.equal(decodeChain(issue([{ resource: 'db://x/*', permissions: ['read'] }])).version, 1);
  const ok = { recipient: 'GB29NWBK60161331926819', amount: 10.5, subject: 'rent' };
  assertAllowed(await v().authorize(t, call('send_money', ok)));
  assertDenied(await v().authorize(t, call('schedule_transaction', ok)), 'ERR_SCOPE_PERMISSION');
});

test('decimal bounds compare exactly: 10.5 in, 10.51 and 0.1 + 0.2 against 0.3 out', async () => {
  const t = issue([MONEY]);
  const base = { recipient: 'GB29NWBK60161331926819', subject: 'x' };
  assertAllowed(await v().authorize(t, call('send_money', { ...base, amount: '10.50' })));
  assertDenied(await v().authorize(t, call('send_money', { ...base, amount: 10.51 })), 'ERR_CONSTRAINT');
  const d = validateConstraint('x', { type: 'decimal', max: '0.3' });
  assert.equal(admits(d, 0.3), true);
  assert.equal(admits(d, 0.1 + 0.2), false); // 0.30000000000000004
  assert.equal(admits(d, '1e-1'), false); // exponent strings are not decimals
});

test('closed arguments: an unconstrained argument is refused; a child cannot reopen', async () => {
  const t = issue([MONEY]);
  const extra = { recipient: 'GB29NWBK60161331926819', amount: 1, subject: 'x', bcc: 'attacker@evil.example' };
  assertDenied(await v().authorize(t, call('send_money', extra)), 'ERR_CONSTRAINT');
  const open = { ...MONEY, closed: false };
  assert.throws(() => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', grants: [open], clock }), isCode('ERR_ATTENUATION'));
  // A hand-made child that reopens is refused when the chain is verified.
  const crafted = craftDelegation(t, ALICE, {
    subject: 'b',
    holder: BOB.publicKey,
    maxDepth: 0,
    grants: [{ resource: 0, permissions: ['transfer'], tools: ['send_money'], constraints: MONEY.constraints! }],
  });
  assertDenied(await v().authorize(crafted, call('send_money', extra)), 'ERR_ATTENUATION');
});

test('delegation escalation: wider tools or a wider constraint are refused', async () => {
  const t = issue([MONEY]);
  assert.throws(
    () => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', grants: [{ ...MONEY, tools: ['send_money', 'schedule_transaction'] }], clock }),
    isCode('ERR_ATTENUATION'),
  );
  assert.throws(
    () => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', grants: [{ ...MONEY, tools: undefined } as Grant], clock }),
    isCode('ERR_ATTENUATION'),
  );
  assert.throws(
    () => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', constraints: { amount: { type: 'decimal', max: '1000' } }, clock }),
    isCode('ERR_ATTENUATION'),
  );
  // max 5 alone would admit negative amounts the parent refuses: refused too; with the parent's min it narrows.
  assert.throws(
    () => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', constraints: { amount: { type: 'decimal', max: '5' } }, clock }),
    isCode('ERR_ATTENUATION'),
  );
  const narrower = delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', constraints: { amount: { type: 'decimal', min: '0.01', max: '5' } }, clock });
  assertDenied(await v().authorize(narrower, call('send_money', { recipient: 'GB29NWBK60161331926819', amount: 6, subject: 'x' })), 'ERR_CONSTRAINT');
  const crafted = craftDelegation(t, ALICE, {
    subject: 'b',
    holder: BOB.publicKey,
    maxDepth: 0,
    grants: [{ resource: 0, permissions: ['transfer'], tools: ['schedule_transaction'], closed: true, constraints: MONEY.constraints! }],
  });
  assertDenied(await v().authorize(crafted, call('schedule_transaction', {})), 'ERR_ATTENUATION');
});

test('a version-1 root cannot be delegated with v1.1 features', () => {
  const t = issue([{ resource: 'db://x/*', permissions: ['read'] }]);
  assert.throws(
    () => delegate(t, { key: ALICE, to: BOB.publicKey, subject: 'b', grants: [{ resource: 'db://x/*', permissions: ['read'], tools: ['q'] }], clock }),
    isCode('ERR_INVALID_ARGUMENT'),
  );
});

test('argument paths: nested members and array elements; a missing member fails', async () => {
  const t = issue([
    {
      resource: 'mail://outbox',
      permissions: ['send'],
      tools: ['send_email', 'create_event'],
      constraints: {
        'message.to': { type: 'glob', pattern: '*@acme.example' },
        'participants[]': { type: 'regex', pattern: '[a-z.]+@acme\\.example' },
        participants: { type: 'length', min: 1, max: 5 },
      },
    },
  ]);
  const c = (args: Record<string, unknown>) => call('send_email', args, 'mail://outbox', 'send');
  assertAllowed(await v().authorize(t, c({ message: { to: 'bob@acme.example' }, participants: ['a@acme.example', 'b.c@acme.example'] })));
  assertDenied(await v().authorize(t, c({ message: { to: 'bob@acme.example' }, participants: ['a@acme.example', 'eve@evil.example'] })), 'ERR_CONSTRAINT');
  assertDenied(await v().authorize(t, c({ message: { cc: 'x' }, participants: ['a@acme.example'] })), 'ERR_CONSTRAINT');
  assertDenied(await v().authorize(t, c({ message: 'bob@acme.example', participants: ['a@acme.example'] })), 'ERR_CONSTRAINT');
  assertDenied(await v().authorize(t, c({ message: { to: 'bob@acme.example' }, participants: [] })), 'ERR_CONSTRAINT'); // length min 1
});

test('urlSafe refuses loopback, private, link-local and metadata addresses in every encoding', () => {
  const safe = validateConstraint('u', { type: 'urlSafe' });
  for (const bad of [
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://169.254.169.254/latest/meta-data',
    'http://metadata.google.internal/',
    'http://10.1.2.3/',
    'http://192.168.0.1/',
    'http://[fe80::1]/',
    'http://localhost:8080/',
    'http://a.localhost/',
    'file:///etc/passwd',
    'http://user:pw@example.com/',
    'http://intranet/',
    'http://[64:ff9b::7f00:1]/',
    'gopher://example.com/',
  ]) {
    assert.equal(admits(safe, bad), false, bad);
  }
  for (const good of ['https://example.com/x', 'http://93.184.216.34/', 'https://[2606:4700::1111]/']) assert.equal(admits(safe, good), true, good);
});

test('url: WHATWG normalisation before the rule (dot segments, case, default port)', () => {
  const u = validateConstraint('u', { type: 'url', scheme: 'https', host: '*.acme.example', port: 443, path: '/v1' });
  assert.equal(admits(u, 'HTTPS://API.ACME.EXAMPLE:443/v1/items'), true);
  assert.equal(admits(u, 'https://api.acme.example/v1/%2e%2e/admin'), false);
  assert.equal(admits(u, 'https://api.acme.example/v1/../admin'), false);
  assert.equal(admits(u, 'https://acme.example/v1'), false, 'the apex is not below itself');
  assert.equal(admits(u, 'https://api.acme.example.evil.example/v1'), false);
  assert.equal(admits(u, 'https://api.acme.example/v10'), false);
});

test('cidr v4 and v6; strict address text', () => {
  const c4 = validateConstraint('ip', { type: 'cidr', cidr: '10.0.0.0/8' });
  const c6 = validateConstraint('ip', { type: 'cidr', cidr: '2001:db8::/32' });
  assert.equal(admits(c4, '10.200.0.1'), true);
  assert.equal(admits(c4, '010.200.0.1'), false);
  assert.equal(admits(c4, '::ffff:10.0.0.1'), false);
  assert.equal(admits(c6, '2001:DB8::1'), true);
  assert.equal(admits(c6, '2001:db9::1'), false);
  assert.throws(() => validateConstraint('ip', { type: 'cidr', cidr: '10.0.0.1/8' }), isCode('ERR_INVALID_ARGUMENT'));
});

test('regex: linear time on a pathological pattern; unsupported syntax refused', () => {
  const re = compileRegex('(a+)+b');
  const steps: number[] = [];
  for (const len of [512, 1024, 2048, 4096]) {
    // Work, not time: the simulation visits at most (program size) states per input character.
    assert.equal(re.test('a'.repeat(len)), false);
    steps.push(len * re.size);
  }
  assert.ok(re.size < 16, `program size ${re.size}`);
  assert.equal(compileRegex('[a-z]+').test('a'.repeat(5000)), false, 'longer than MAX_REGEX_INPUT fails closed');
  for (const bad of ['^a', 'a$', '(?=a)', '\\1', 'a*?', 'a{1000}', '[', '(a'])
    assert.throws(() => validateConstraint('r', { type: 'regex', pattern: bad }), isCode('ERR_INVALID_ARGUMENT'), bad);
});

test('each, subset, contains, notOneOf, all/anyOf/not', () => {
  const each = validateConstraint('p', { type: 'each', constraint: { type: 'glob', pattern: '*@acme.example' } });
  assert.equal(admits(each, ['a@acme.example']), true);
  assert.equal(admits(each, ['a@acme.example', 'x@evil.example']), false);
  assert.equal(admits(validateConstraint('p', { type: 'subset', values: ['a', 'b'] }), ['a', 'a', 'b']), true);
  assert.equal(admits(validateConstraint('p', { type: 'contains', values: ['a'] }), ['b']), false);
  assert.equal(admits(validateConstraint('p', { type: 'notOneOf', values: ['root'] }), 'root'), false);
  const combo = validateConstraint('p', {
    type: 'all',
    constraints: [
      { type: 'prefix', prefix: 'INV-' },
      { type: 'not', constraint: { type: 'exact', value: 'INV-0' } },
    ],
  });
  assert.equal(admits(combo, 'INV-1'), true);
  assert.equal(admits(combo, 'INV-0'), false);
  assert.equal(
    admits(
      validateConstraint('p', {
        type: 'anyOf',
        constraints: [
          { type: 'exact', value: 1 },
          { type: 'exact', value: 'one' },
        ],
      }),
      'one',
    ),
    true,
  );
});
