/**
 * What a user installs: the packed tarball in a fresh project with only
 * `@langchain/core` and `zod` (the optional peers langchain and
 * better-sqlite3 absent) imports capframe and capframe/langchain and guards
 * a tool(); once `langchain` is added, the createAgent middleware works.
 * The project scripts are in test/pack/project/. Packs the built dist/
 * (`npm test` builds it first). One install, then one more for langchain,
 * both from the npm cache where it has the packages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const projectFiles = fileURLToPath(new URL('./project/', import.meta.url));
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The version the repository itself uses (so the npm cache has it). */
function version(pkg: string): string {
  return (JSON.parse(readFileSync(join(repo, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function newest(dir: string): number {
  return Math.max(
    ...readdirSync(dir).map((n) => {
      const p = join(dir, n);
      const s = statSync(p);
      return s.isDirectory() ? newest(p) : s.mtimeMs;
    }),
  );
}

test('packed tarball: capframe and capframe/langchain with only @langchain/core and zod; the middleware once langchain is added', { timeout: 900_000 }, () => {
  const built = join(repo, 'dist', 'index.js');
  assert.ok(statSync(built, { throwIfNoEntry: false }), 'no dist/: run `npm run build` first (npm test does)');
  assert.ok(statSync(built).mtimeMs >= newest(join(repo, 'src')), 'dist/ is older than src/: run `npm run build` first (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'capframe-pack-'));
  try {
    // dist/ is built already: no prepare script (it would build again).
    const out = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json', '--loglevel=error'], repo);
    const tarball = join(dir, (JSON.parse(out) as { filename: string }[])[0]!.filename);
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'capframe-pack-check', private: true, type: 'module' }));
    for (const f of ['core.mjs', 'agent.mjs']) copyFileSync(join(projectFiles, f), join(project, f));

    run('npm', ['install', tarball, `@langchain/core@${version('@langchain/core')}`, `zod@${version('zod')}`, ...NPM_FLAGS], project);
    assert.equal(statSync(join(project, 'node_modules', 'better-sqlite3'), { throwIfNoEntry: false }), undefined, 'better-sqlite3 was installed');
    assert.match(run(process.execPath, ['core.mjs'], project), /core ok/);

    run('npm', ['install', `langchain@${version('langchain')}`, ...NPM_FLAGS], project);
    assert.match(run(process.execPath, ['agent.mjs'], project), /agent ok/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
