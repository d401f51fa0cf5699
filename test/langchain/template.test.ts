import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError, Verifier } from '../../src/index.ts';
import { guardTool, Guard, memorySink } from '../../src/langchain/index.ts';
import { compileTemplate, encodeValue } from '../../src/config/template.ts';
import { agentKey, codeOf, config, makeTools, supportToken } from './fixtures.ts';
import type { ToolMessage } from '@langchain/core/messages';

function renderError(t: string, args: Record<string, unknown>): string {
  try {
    compileTemplate(t).render(args);
  } catch (e) {
    assert.ok(e instanceof CapframeError);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('expected an error');
}

test('values are percent-encoded per segment', () => {
  const t = compileTemplate('database://{db}/{table}');
  assert.deepEqual(t.args, ['db', 'table']);
  assert.equal(t.render({ db: 'users', table: 'accounts' }), 'database://users/accounts');
  assert.equal(t.render({ db: 'a b', table: 'x?y#z' }), 'database://a%20b/x%3Fy%23z');
  assert.equal(t.render({ db: 7, table: true }), 'database://7/true');
  assert.equal(encodeValue('*'), '%2A');
  assert.equal(encodeValue('a:b@c'), 'a%3Ab%40c');
  assert.equal(encodeValue('%2F'), '%252F');
  assert.equal(encodeValue('.'), '%2E');
  assert.equal(encodeValue('..'), '%2E%2E');
  assert.equal(encodeValue('...'), '...');
  assert.equal(encodeValue('é'), '%C3%A9');
  assert.equal(compileTemplate('files://docs/{name}.txt').render({ name: '.' }), 'files://docs/..txt');
});

test('hostile values never change the resource structure: they are denied or stay one segment', () => {
  const t = 'files://docs/{name}';
  assert.match(renderError(t, { name: '../secret' }), /^ERR_SCOPE_RESOURCE: .*percent-encoded "\/"/);
  assert.match(renderError(t, { name: '..' }), /^ERR_SCOPE_RESOURCE: .*dot segment/);
  assert.match(renderError(t, { name: '.' }), /^ERR_SCOPE_RESOURCE: .*dot segment/);
  assert.match(renderError(t, { name: '/' }), /^ERR_SCOPE_RESOURCE: .*percent-encoded "\/"/);
  assert.match(renderError(t, { name: 'a\u0000b' }), /^ERR_SCOPE_RESOURCE: .*control character/);
  assert.match(renderError(t, { name: 'x'.repeat(2000) }), /^ERR_SCOPE_RESOURCE: .*longer than 1024 bytes/);
  assert.match(renderError(t, { name: '' }), /^ERR_SCOPE_RESOURCE: .*empty segment/);
  assert.match(renderError(t, {}), /^ERR_SCOPE_RESOURCE: the resource template needs argument "name"/);
  assert.match(renderError(t, { name: null }), /^ERR_SCOPE_RESOURCE: the resource template needs argument "name"/);
  assert.match(renderError(t, { name: ['a'] }), /^ERR_SCOPE_RESOURCE: argument "name" is used in the resource and must be a string/);
  assert.match(renderError(t, { name: { toString: () => 'x' } }), /must be a string, number or boolean/);
  // an encoded "/" typed by the model stays literal text inside one segment
  assert.equal(compileTemplate(t).render({ name: '%2F..%2Fetc' }), 'files://docs/%252F..%252Fetc');
  assert.match(renderError(t, { name: 'mail://evil' }), /^ERR_SCOPE_RESOURCE: .*percent-encoded "\/"/);
  assert.equal(compileTemplate(t).render({ name: 'mail:evil' }), 'files://docs/mail%3Aevil');
});

test('template syntax errors are rejected', () => {
  for (const bad of ['{s}://x', 'x://{a', 'x://a}', 'x://{}', 'x://{a.b}', 'noscheme/{a}', 'x://a//{b}', 'X://{a}', '']) {
    assert.throws(
      () => compileTemplate(bad),
      (e: CapframeError) => e.code === 'ERR_INVALID_ARGUMENT',
      bad,
    );
  }
});

test('hostile values end to end through a guarded tool: denied with ERR_SCOPE_RESOURCE, tool never runs', async () => {
  const cfg = config();
  const sink = memorySink();
  const guard = new Guard({ config: cfg, sink, verifier: new Verifier({ trusted: cfg.trusted }) });
  // the token grants files://docs/* [read]: one segment under docs, nothing else
  const readDoc = guardTool(makeTools()[6]!, guard);
  const run = { configurable: { capframe: { token: supportToken(), holderKey: agentKey } } };
  const codes: Record<string, string> = {};
  const hostile = ['../tickets', '..', '.', '/', 'a/b', '%2F', '%2e%2e', 'a\u0000', 'x'.repeat(3000), 'ａdmin', 'аdmin', '*', 'ok-name'];
  let i = 0;
  for (const name of hostile) {
    const r = (await readDoc.invoke({ name: 'read_doc', args: { name }, id: `h-${i++}`, type: 'tool_call' }, run)) as ToolMessage;
    codes[name.length > 20 ? 'long' : name] = codeOf(r);
  }
  assert.deepEqual(codes, {
    '../tickets': 'ERR_SCOPE_RESOURCE',
    '..': 'ERR_SCOPE_RESOURCE',
    '.': 'ERR_SCOPE_RESOURCE',
    '/': 'ERR_SCOPE_RESOURCE',
    'a/b': 'ERR_SCOPE_RESOURCE',
    '%2F': 'OK',
    '%2e%2e': 'OK',
    'a\u0000': 'ERR_SCOPE_RESOURCE',
    long: 'ERR_SCOPE_RESOURCE',
    ａdmin: 'OK',
    аdmin: 'OK',
    '*': 'OK',
    'ok-name': 'OK',
  });
  // The values that passed are single, literal segments under docs/ (the grant's `*`), never a traversal or a wildcard.
  const allowed = sink.events.filter((e) => e.decision === 'allow').map((e) => e.resource);
  assert.deepEqual(allowed, [
    'files://docs/%252F',
    'files://docs/%252e%252e',
    'files://docs/%EF%BD%81dmin',
    'files://docs/%D0%B0dmin',
    'files://docs/%2A',
    'files://docs/ok-name',
  ]);
});

test('unicode look-alikes do not match an exact grant', async () => {
  const cfg = config();
  const guard = new Guard({ config: cfg, sink: null, verifier: new Verifier({ trusted: cfg.trusted }) });
  const { issueToken } = await import('../../src/index.ts');
  const { authority } = await import('./fixtures.ts');
  const token = issueToken({
    key: authority,
    subject: 'agent:x',
    holder: agentKey.publicKey,
    grants: [{ resource: 'files://docs/admin', permissions: ['read'] }],
    ttl: '1h',
  });
  const readDoc = guardTool(makeTools()[6]!, guard);
  const run = { configurable: { capframe: { token } } };
  const r1 = (await readDoc.invoke({ name: 'read_doc', args: { name: 'admin' }, id: 'u-1', type: 'tool_call' }, run)) as ToolMessage;
  const r2 = (await readDoc.invoke({ name: 'read_doc', args: { name: 'ａdmin' }, id: 'u-2', type: 'tool_call' }, run)) as ToolMessage;
  const r3 = (await readDoc.invoke({ name: 'read_doc', args: { name: 'Admin' }, id: 'u-3', type: 'tool_call' }, run)) as ToolMessage;
  assert.deepEqual([r1, r2, r3].map(codeOf), ['OK', 'ERR_SCOPE_RESOURCE', 'ERR_SCOPE_RESOURCE']);
});
