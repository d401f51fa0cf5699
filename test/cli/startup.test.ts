/**
 * What each command loads: `--help` reads only the command table, and a
 * command loads the libraries its work needs and no others (undici only for
 * remote work, SQLite only for the registry, yaml and zod only for commands
 * that read the config). Observed in a child process (the built dist/)
 * through a module resolve hook; startup time itself is `npm run bench -- --suite cli`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_DB_PATH as REGISTRY_DEFAULT } from '../../src/revocation/registry.ts';
import { DEFAULT_DB_PATH } from '../../src/cli/usage.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'capframe.js');
const HEAVY = ['zod', 'undici', 'yaml', 'cbor-x', 'bloom-filters', 'better-sqlite3'];

let dir = '';

/** Runs the CLI; returns its exit code and the files under dist/ and node_modules/ it resolved. */
function loads(...args: string[]): { code: number | null; stdout: string; stderr: string; modules: string[]; packages: string[] } {
  const out = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '', TRACE_OUT: out },
  });
  const urls = existsSync(out)
    ? readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
  const modules = [...new Set(urls.filter((u) => u.includes('/dist/')).map((u) => u.slice(u.lastIndexOf('/dist/') + 6)))].sort();
  const packages = [
    ...new Set(
      urls.flatMap((u) => {
        const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
        return m ? [m[1]!] : [];
      }),
    ),
  ].sort();
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, modules, packages };
}

describe('CLI start-up: a command loads only what it uses', () => {
  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'capframe-startup-'));
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (r.url.startsWith('file:')) appendFileSync(process.env.TRACE_OUT, r.url + '\\n');
  return r;
}
`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('--help and NAME --help load the command table only: no library, no command module', () => {
    for (const args of [['--help'], ['verify', '--help'], ['serve', '--help'], ['revocations', '--help']]) {
      const r = loads(...args);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.packages, [], `${args.join(' ')} loaded ${r.packages.join(', ')}`);
      assert.deepEqual(
        r.modules.filter((m) => m.startsWith('cli/commands/')),
        [],
        args.join(' '),
      );
      for (const m of r.modules) assert.match(m, /^(cli\/(main|commands|usage|args)|errors|duration|token\/limits)\.js$/, `${args.join(' ')} loaded ${m}`);
    }
  });

  test('keygen loads no library; verify loads cbor-x but neither zod, undici, yaml nor SQLite', () => {
    const k = loads('keygen', '--out', 'auth.key');
    assert.equal(k.code, 0, k.stderr);
    assert.deepEqual(k.packages, []);
    assert.deepEqual(
      k.modules.filter((m) => m.startsWith('cli/commands/')),
      ['cli/commands/keygen.js'],
    );
    const v = loads('verify', '--token', 'missing.tok', '--invocation', 'missing.inv', '--trust', 'auth.pub', '--tool', 't', '--args', '{}');
    assert.equal(v.code, 2, v.stderr); // the files do not exist; the command's module is loaded all the same
    assert.deepEqual(v.packages, ['cbor-x']);
    for (const p of HEAVY.filter((p) => p !== 'cbor-x')) assert.ok(!v.packages.includes(p), p);
  });

  test('the revocation commands load SQLite; serve loads yaml and zod', () => {
    const rv = loads('revoke', '--key', 'auth.key', '--sub', 'agent:x', '--db', 'a.db');
    assert.equal(rv.code, 0, rv.stderr);
    // better-sqlite3 is a CommonJS driver loaded with require() when the registry opens, which the
    // ESM resolve hook does not see: the registry file it wrote shows that it ran.
    assert.ok(existsSync(join(dir, 'a.db')), 'the SQLite registry was not written');
    assert.ok(!rv.packages.includes('undici') && !rv.packages.includes('zod'), rv.packages.join(', '));
    const s = loads('serve', '--config', 'missing.yaml');
    assert.equal(s.code, 1);
    assert.ok(s.packages.includes('yaml') && s.packages.includes('zod'), s.packages.join(', '));
  });

  test("the help's registry default is the registry's", () => {
    assert.equal(DEFAULT_DB_PATH, REGISTRY_DEFAULT);
  });
});
