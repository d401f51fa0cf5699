/** Resource normalisation and pattern matching: traversal and look-alikes never match `database://users/*`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvocation, issueToken, Verifier } from '../../src/index.ts';
import { normalizeResource } from '../../src/token/resource.ts';
import { matchResource, parsePattern, patternCovers } from '../../src/token/resource.ts';
import { ALICE, AUTH, T0, assertAllowed, assertDenied, assertThrowsCode, callId } from './helpers.ts';

const clock = () => T0;

/** Concrete resources that must never be accepted as `database://users/<one segment>`. */
const HOSTILE: readonly string[] = [
  // dot segments, plain and percent-encoded in every case mix
  'database://users/..',
  'database://users/../admin',
  'database://users/.',
  'database://users/./alice',
  'database://users/alice/..',
  'database://users/alice/../../admin',
  'database://users/%2e%2e',
  'database://users/%2E%2e',
  'database://users/%2e%2E',
  'database://users/%2E%2E',
  'database://users/%2e%2e/admin',
  'database://users/.%2e',
  'database://users/%2e.',
  'database://users/%2e',
  'database://users/%2E',
  // encoded and doubled slashes, trailing slash, empty segments
  'database://users/a%2fb',
  'database://users/a%2Fb',
  'database://users/%2f',
  'database://users%2Fadmin',
  'database://users/%2F..',
  'database://users//alice',
  'database://users//',
  'database:///users/alice',
  'database://users/alice/',
  'database://users/',
  // backslashes, query, fragment, spaces
  'database://users/..\\admin',
  'database://users/alice?x=1',
  'database://users/alice#frag',
  'database://users/al ice',
  // control characters, raw and encoded
  'database://users/alice\u0000',
  'database://users/al\tice',
  'database://users/alice\n',
  'database://users/al\u007fice',
  'database://users/alice%00',
  'database://users/alice%0a',
  'database://users/alice%0D',
  'database://users/%7f',
  'database://users/%1F',
  // non-ASCII look-alikes (fullwidth dots and solidus, two-dot leader, division slash, Cyrillic a, NBSP, C1 control)
  'database://users/\uFF0E\uFF0E',
  'database://users/\u2025',
  'database://users/a\u2215b',
  'database://users/a\uFF0Fb',
  'database://users/\u0430lice',
  'database://users/alice\u00A0',
  'database://users/alice\u0085',
  // bare wildcards in a concrete resource
  'database://users/*',
  'database://users/**',
  'database://users/a*',
  'database://*/alice',
  // malformed percent-encodings and structure
  'database://users/%',
  'database://users/%2',
  'database://users/%zz',
  'database:/users/alice',
  '//users/alice',
  'database://',
  'da tabase://users/alice',
  '1db://users/alice',
  '',
  'database://users/' + 'a'.repeat(1100),
];

test('every hostile resource is ERR_SCOPE_RESOURCE from normalizeResource()', () => {
  for (const r of HOSTILE) assertThrowsCode(() => normalizeResource(r), 'ERR_SCOPE_RESOURCE', JSON.stringify(r));
});

test('no hostile resource is allowed by database://users/* or even database://**, on either path', async () => {
  const token = issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    ttl: 60,
    clock,
    grants: [
      { resource: 'database://users/*', permissions: ['read'] },
      { resource: 'database://**', permissions: ['list'] },
    ],
  });
  const v = new Verifier({ trusted: [AUTH.publicKey], clock });
  for (const resource of HOSTILE) {
    for (const operation of ['read', 'list']) {
      const d = await v.authorize(token, { tool: 't', operation, resource, args: {}, callId: callId() });
      assertDenied(d, 'ERR_SCOPE_RESOURCE', JSON.stringify(resource));
    }
    assertThrowsCode(
      () => createInvocation(token, { key: ALICE, tool: 't', operation: 'read', resource, args: {}, clock }),
      'ERR_SCOPE_RESOURCE',
      JSON.stringify(resource),
    );
  }
  // control: the grants do work
  assertAllowed(await v.authorize(token, { tool: 't', operation: 'read', resource: 'database://users/alice', args: {}, callId: callId() }));
  assertAllowed(await v.authorize(token, { tool: 't', operation: 'list', resource: 'database://admins/x/y', args: {}, callId: callId() }));
});

test('normalisation: lowercase scheme, decoded unreserved characters, uppercased other escapes', async () => {
  assert.equal(normalizeResource('DataBase://users/alice'), 'database://users/alice');
  assert.equal(normalizeResource('database://users/%61lice'), 'database://users/alice');
  assert.equal(normalizeResource('database://users/al%2Dice%7e'), 'database://users/al-ice~');
  assert.equal(normalizeResource('database://users/a%2ab'), 'database://users/a%2Ab');
  assert.equal(normalizeResource('database://users/a%c3%a9'), 'database://users/a%C3%A9');
  assert.equal(normalizeResource('database://users/...'), 'database://users/...', 'three dots is an ordinary name');
  assert.equal(normalizeResource('database://users/.hidden'), 'database://users/.hidden');
  const token = issueToken({
    key: AUTH,
    subject: 'a',
    holder: ALICE.publicKey,
    ttl: 60,
    clock,
    grants: [{ resource: 'database://users/*', permissions: ['read'] }],
  });
  const v = new Verifier({ trusted: [AUTH.publicKey], clock });
  const d = await v.authorize(token, { tool: 't', operation: 'read', resource: 'DATABASE://users/%61lice', args: {}, callId: callId() });
  assertAllowed(d);
  assert.equal(d.resource, 'database://users/alice');
});

test('in-scope but wrong-shaped resources are ERR_SCOPE_RESOURCE (outside the grant)', async () => {
  const token = issueToken({
    key: AUTH,
    subject: 'a',
    holder: ALICE.publicKey,
    ttl: 60,
    clock,
    grants: [{ resource: 'database://users/*', permissions: ['read'] }],
  });
  const v = new Verifier({ trusted: [AUTH.publicKey], clock });
  for (const resource of [
    'database://users',
    'database://users/alice/extra',
    'database://USERS/alice',
    'database://admins/alice',
    'files://users/alice',
    'database://users2/alice',
  ]) {
    assertDenied(await v.authorize(token, { tool: 't', operation: 'read', resource, args: {}, callId: callId() }), 'ERR_SCOPE_RESOURCE', resource);
  }
});

test('pattern semantics: * is one segment, trailing ** one or more', () => {
  const m = (p: string, r: string) => matchResource(parsePattern(p), normalizeResource(r));
  assert.equal(m('database://users/*', 'database://users/alice'), true);
  assert.equal(m('database://users/*', 'database://users/alice/x'), false);
  assert.equal(m('database://users/*', 'database://users'), false);
  assert.equal(m('database://users/**', 'database://users/a/b/c'), true);
  assert.equal(m('database://users/**', 'database://users/a'), true);
  assert.equal(m('database://users/**', 'database://users'), false);
  assert.equal(m('database://*/alice', 'database://users/alice'), true);
  assert.equal(m('database://*/alice', 'database://users/bob'), false);
  assert.equal(m('database://users/alice', 'database://users/alice'), true);
  assert.equal(m('database://users/alice', 'files://users/alice'), false);
  assert.equal(m('database://users/%2A', 'database://users/a'), false, 'an encoded star is a literal');
  // coverage (for attenuation)
  const c = (p: string, ch: string) => patternCovers(parsePattern(p), parsePattern(ch));
  assert.equal(c('database://**', 'database://users/*'), true);
  assert.equal(c('database://users/**', 'database://users/**'), true);
  assert.equal(c('database://users/*', 'database://users/**'), false);
  assert.equal(c('database://users/*', 'database://*/*'), false);
  assert.equal(c('database://*/*', 'database://users/*'), true);
  assert.equal(c('database://users/*', 'database://users/alice'), true);
  assert.equal(c('database://users/alice', 'database://users/*'), false);
  assert.equal(c('database://users/**', 'database://users'), false);
});

test('invalid grant patterns are refused at issue time (ERR_INVALID_ARGUMENT) and at parse (ERR_MALFORMED)', () => {
  for (const resource of [
    'database://users/../*',
    'database://users/a*',
    'database://**/x',
    'DATABASE://users/*',
    'database://users/%61',
    'database://users/%2e%2e',
    'database://users//*',
    'database://users/*/',
    'database://users/%2f',
    'database://users/\u00e9',
    'nope',
  ]) {
    assertThrowsCode(
      () => issueToken({ key: AUTH, subject: 'a', holder: ALICE.publicKey, ttl: 60, clock, grants: [{ resource, permissions: ['read'] }] }),
      'ERR_INVALID_ARGUMENT',
      resource,
    );
    assertThrowsCode(() => parsePattern(resource), 'ERR_MALFORMED', resource);
  }
});
