/**
 * Multi-segment template placeholders `{name*}` (src/config/segments.ts):
 * each segment is checked and percent-encoded on its own; traversal and
 * encoded separators are denials, never rewrites.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError } from '../../src/index.ts';
import { compileTemplate } from '../../src/config/template.ts';

const code = (f: () => unknown) => {
  try {
    f();
    return 'none';
  } catch (e) {
    return (e as CapframeError).code;
  }
};

test('a {path*} value yields one resource segment per path segment', () => {
  const t = compileTemplate('file://home/{path*}');
  assert.equal(t.render({ path: 'docs/tax/2025-summary.pdf' }), 'file://home/docs/tax/2025-summary.pdf');
  assert.equal(t.render({ path: 'a b/ü.txt' }), 'file://home/a%20b/%C3%BC.txt');
  assert.equal(t.render({ path: '.ssh/config' }), 'file://home/.ssh/config');
  const mid = compileTemplate('file://{user}/{path*}/meta');
  assert.equal(mid.render({ user: 'alice', path: 'x/y' }), 'file://alice/x/y/meta');
});

test('traversal, empty segments and encoded separators are denied (ERR_SCOPE_RESOURCE)', () => {
  const t = compileTemplate('file://home/{path*}');
  for (const bad of [
    '../.ssh/id',
    'docs/../../etc/passwd',
    './x',
    'a/./b',
    '/etc/passwd',
    'a//b',
    'a/',
    '',
    '%2e%2e/x',
    '%2E%2e/x',
    'a%2fb',
    'a%5C..',
    'a\\..\\b',
    'a\u0000b',
    'a\nb',
  ]) {
    assert.equal(
      code(() => t.render({ path: bad })),
      'ERR_SCOPE_RESOURCE',
      JSON.stringify(bad),
    );
  }
  assert.equal(
    code(() => t.render({ path: 7 })),
    'ERR_SCOPE_RESOURCE',
  );
  assert.equal(
    code(() => t.render({})),
    'ERR_SCOPE_RESOURCE',
  );
  // A single-segment placeholder still keeps "/" inside one segment (and the core refuses the encoded "/").
  assert.equal(
    code(() => compileTemplate('file://home/{path}').render({ path: 'docs/tax' })),
    'ERR_SCOPE_RESOURCE',
  );
});

test('{name*} must fill whole segments', () => {
  for (const bad of ['file://home/x{path*}', 'file://home/{path*}x', 'file://home/{path*}{x}']) {
    assert.equal(
      code(() => compileTemplate(bad)),
      'ERR_INVALID_ARGUMENT',
      bad,
    );
  }
});
