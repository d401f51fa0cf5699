/**
 * Findings of the security review of policy language 1.1 (format version 2):
 * one test per finding; each failed before its fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admits, decodeConstraints, validateConstraint, type Constraint } from '../../src/token/constraints.ts';
import type { CborMap } from '../../src/token/cbor.ts';
import { covers } from '../../src/token/policy/covers.ts';
import { compileRegex } from '../../src/token/policy/regex.ts';
import { compileTemplate } from '../../src/config/template.ts';
import { InvalidArgumentError, MalformedError, ScopeResourceError } from '../../src/errors.ts';
import { denialOf, withCapframe } from '../../src/mcp/index.ts';
import { agentKey, agentToken, connectInMemory, ticketsServer } from '../mcp/fixtures.ts';

const c = (o: unknown): Constraint => validateConstraint('v', o);

test('finding 1: urlSafe refuses loopback and metadata names written with a trailing dot or an empty label, and localhost.localdomain', () => {
  const safe = c({ type: 'urlSafe' });
  for (const v of [
    'http://localhost./',
    'http://LOCALHOST./admin',
    'http://localhost\u3002/', // ideographic full stop: IDNA maps it to "."
    'http://foo.localhost./',
    'http://metadata./computeMetadata/v1/',
    'http://metadata.google.internal./computeMetadata/v1/',
    'http://kubernetes.default./',
    'http://printer.local./',
    'http://localhost.localdomain/',
    'http://localhost.localdomain./',
    'http://a..example.com/',
  ]) {
    assert.equal(admits(safe, v), false, v);
  }
  for (const v of ['https://example.com/', 'http://api.acme.example:8080/x', 'https://93.184.215.14/']) assert.equal(admits(safe, v), true, v);
});

test('finding 2: a regex repeating empty groups is refused when compiled (it emits no state but took 100^n visits)', () => {
  for (const pattern of ['((((){100}){100}){100}){100}', '((((?:a{0}){100}){100}){100}){100}']) {
    assert.throws(() => validateConstraint('r', { type: 'regex', pattern }), InvalidArgumentError, pattern);
    const raw: CborMap = new Map([['r', [15, pattern]]]);
    assert.throws(() => decodeConstraints(raw, 2), MalformedError, pattern);
  }
  // Repeats of small empty groups stay usable, with their meaning.
  assert.equal(compileRegex('a(){100}b').test('ab'), true);
  assert.equal(compileRegex('(a?){100}').test('a'.repeat(100)), true);
  assert.equal(compileRegex('(a?){100}').test('a'.repeat(101)), false);
});

test('finding 3: a url path rule refuses encoded separators and dot segments behind ";" that servers read as "..", ', () => {
  const rule = c({ type: 'url', scheme: 'https', host: 'api.acme.example', path: '/v1' });
  for (const v of [
    'https://api.acme.example/v1/..%2fadmin',
    'https://api.acme.example/v1/..%2Fadmin',
    'https://api.acme.example/v1/..%5cadmin',
    'https://api.acme.example/v1/a%2F..%2F..%2Fadmin',
    'https://api.acme.example/v1/..;/admin',
    'https://api.acme.example/v1/%2e%2e;x=1/admin',
    'https://api.acme.example/v1/.;/x',
  ]) {
    assert.equal(admits(rule, v), false, v);
  }
  for (const v of [
    'https://api.acme.example/v1',
    'https://api.acme.example/v1/x/y',
    'https://api.acme.example/v1/items;page=2',
    'https://api.acme.example/v1/a..b',
  ]) {
    assert.equal(admits(rule, v), true, v);
  }
  // Without a path rule the path is not examined.
  assert.equal(admits(c({ type: 'url', host: 'api.acme.example' }), 'https://api.acme.example/v1/..%2fadmin'), true);
});

test('finding 4: each, subset and contains read holes of a sparse array as null (they were skipped)', () => {
  const sparse: unknown[] = ['x'];
  sparse.length = 2; // ['x', <hole>]: the tool receives undefined, JSON writes null
  assert.equal(admits(c({ type: 'each', constraint: { type: 'exact', value: 'x' } }), sparse), false);
  assert.equal(admits(c({ type: 'subset', values: ['x'] }), sparse), false);
  const holeThenNull: unknown[] = [];
  holeThenNull[1] = null;
  assert.equal(admits(c({ type: 'each', constraint: { type: 'exact', value: null } }), holeThenNull), true);
  assert.equal(admits(c({ type: 'subset', values: ['x', null] }), sparse), true);
  assert.equal(admits(c({ type: 'contains', values: [null] }), sparse), true);
  // Attenuation agrees with evaluation: subset([null]) covers each(exact null), and both read [undefined] alike.
  const parent = c({ type: 'subset', values: [null] });
  const child = c({ type: 'each', constraint: { type: 'exact', value: null } });
  assert.equal(covers(parent, child), true);
  for (const v of [[undefined], sparse.slice(1), [null]]) assert.equal(admits(child, v) && !admits(parent, v), false);
});

test('finding 5: {path*} refuses values whose NFKC form traverses, and segments of only dots and spaces', () => {
  const t = compileTemplate('file://home/{path*}');
  for (const bad of [
    '\uff0e\uff0e\uff0fetc/passwd', // fullwidth "../": NFKC folds it to "../"
    'docs/\uff0e\uff0e/secrets',
    'a\uff0fb', // fullwidth solidus inside one segment
    '\uff05\uff12\uff45\uff05\uff12\uff45/x', // fullwidth "%2e%2e"
    'docs/.. /secrets', // Windows drops trailing spaces and dots: ".. " opens ".."
    'docs/.../x',
    'docs/\u2024\u2024/x', // one dot leader x2 folds to ".."
  ]) {
    assert.throws(() => t.render({ path: bad }), ScopeResourceError, JSON.stringify(bad));
  }
  assert.equal(t.render({ path: 'docs/\u00fc.txt' }), 'file://home/docs/%C3%BC.txt');
  assert.equal(t.render({ path: '.ssh/config' }), 'file://home/.ssh/config');
  assert.equal(t.render({ path: 'a..b/c.d' }), 'file://home/a..b/c.d');
});

test('finding 6: covers() remembers sub-answers, so an anyOf parent against an all child is not exponential in the nesting', () => {
  // Two trees of 31 kinds nested 4 deep (the limits of §6.2), as a hand-made delegation can carry;
  // every leaf pair fails, so the recursion explores everything. Count the reads of the operand lists.
  let reads = 0;
  const tree = (type: 'all' | 'anyOf', depth: number, leaf: () => Constraint): Constraint => {
    if (depth === 0) return leaf();
    const ops = [tree(type, depth - 1, leaf), tree(type, depth - 1, leaf)];
    return Object.freeze({
      type,
      get constraints() {
        reads++;
        return ops;
      },
    }) as Constraint;
  };
  let n = 0;
  const parent = tree('anyOf', 4, () => c({ type: 'length', min: ++n }));
  const child = tree('all', 4, () => c({ type: 'urlSafe' }));
  assert.equal(covers(parent, child), false);
  // 31 x 31 pairs of sub-constraints, each read a few times; the unremembered recursion made 31381 calls.
  assert.ok(reads < 31 * 31 * 3, `${reads} reads`);
});

test('finding 7: the MCP guard reads tool-policy constraint keys as argument paths, as the config defines them', async () => {
  const send = {
    resource: 'mail://acme.example/outbound',
    operation: 'send',
    constraints: { 'message.to': { type: 'glob' as const, pattern: '*@acme.example' } },
  };
  const { server, effects } = ticketsServer({ policies: { send_email: send } });
  const client = await connectInMemory(server);
  const mcp = withCapframe(client, { token: agentToken(), holderKey: agentKey, policies: { send_email: send } });
  const base = { to: 'a@acme.example', subject: 's' };
  // A literal member named "message.to" used to satisfy the rule while message.to pointed elsewhere.
  await assert.rejects(
    mcp.callTool({ name: 'send_email', arguments: { ...base, 'message.to': 'a@acme.example', message: { to: 'x@evil.example' } } }),
    (e: unknown) => denialOf(e)?.code === 'ERR_CONSTRAINT',
  );
  assert.deepEqual(effects, []);
  await mcp.callTool({ name: 'send_email', arguments: { ...base, message: { to: 'b@acme.example' } } });
  assert.equal(effects.length, 1);
  await client.close();
});

test('finding 8: urlSafe refuses the other IPv6 forms that carry an IPv4 address (SIIT ::ffff:0:a.b.c.d, Teredo 2001::/32)', () => {
  const safe = c({ type: 'urlSafe' });
  for (const v of ['http://[::ffff:0:a00:1]/', 'http://[::ffff:0:7f00:1]/', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'http://[2001::1]/'])
    assert.equal(admits(safe, v), false, v);
  for (const v of ['http://[2001:4860:4860::8888]/', 'http://[2606:4700::1111]/']) assert.equal(admits(safe, v), true, v);
});
