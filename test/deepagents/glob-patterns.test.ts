/**
 * Glob patterns of the Deep Agents directory tools: the backends expand brace
 * groups before they resolve paths, so `.{.,}/secrets/*` is `../secrets/*`.
 * A glob granted on /reports must not list files outside /reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBackend } from 'deepagents';
import { CapframeError } from '../../src/errors.ts';
import { fileToolView } from '../../src/deepagents/index.ts';

const CLIMBING = ['.{.,}/secrets/*', '..{,}/secrets/*', '{.,a}{.,b}/secrets/*', '.{,}./secrets/*', '{..,x}/secrets/*', '{1..3}', '.\\./secrets/*'];

test('glob: patterns whose brace expansion reaches a ".." segment are refused (the real backend would list outside the path)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'capframe-glob-'));
  try {
    mkdirSync(join(root, 'reports'));
    mkdirSync(join(root, 'secrets'));
    writeFileSync(join(root, 'reports', 'q3.md'), 'q3');
    writeFileSync(join(root, 'secrets', 'api-key.txt'), 'k');
    const backend = new FilesystemBackend({ rootDir: root, virtualMode: true });
    // The threat is real: the backend lists /secrets for a glob on /reports.
    const listed = await backend.glob('.{.,}/secrets/*', '/reports');
    assert.ok(JSON.stringify(listed).includes('api-key.txt'), 'the backend follows the brace expansion out of /reports');
    for (const pattern of CLIMBING) {
      assert.throws(
        () => fileToolView('glob', { pattern, path: '/reports' }),
        (e: unknown) => e instanceof CapframeError && e.code === 'ERR_SCOPE_RESOURCE',
        pattern,
      );
      assert.throws(
        () => fileToolView('grep', { pattern: 'k', path: '/reports', glob: pattern }),
        (e: unknown) => e instanceof CapframeError && e.code === 'ERR_SCOPE_RESOURCE',
        pattern,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('glob: ordinary patterns, brace groups of plain names included, still pass', () => {
  for (const pattern of ['**/*.md', '*.{md,txt}', 'q{1,2,3}/*.md', '{a-b,c_d}/**', '.hidden/*', 'a..b/*']) {
    assert.deepEqual(fileToolView('glob', { pattern, path: '/reports' }), { pattern, path: 'reports/~' }, pattern);
  }
});
