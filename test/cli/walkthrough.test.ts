/**
 * The README's CLI walkthrough, command by command, in a temporary directory,
 * in both ways the README defines `capframe`: from a clone (`npm run -s cli --`,
 * started from elsewhere with --prefix) and from an installed package (`npx
 * capframe` in a project whose node_modules holds capframe, linked as `npm
 * install <dir>` links a directory). Each command must exit 0, or the code its
 * comment names (`exit 1`). Needs the built dist/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MARKER = '<!-- cli-walkthrough:';

/** The commands of the marked block: continuation lines joined, one string each. */
export function walkthrough(readme: string): string[] {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, `README.md has no ${MARKER} block`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block, 'the walkthrough marker is followed by a ```sh block');
  return block[1]!
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The environment of a user's shell: nothing of the npm run that started these tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k.toLowerCase().startsWith('npm_')) continue;
    env[k] = v;
  }
  return env;
}

function runAll(dir: string, define: string, commands: readonly string[]): void {
  for (const cmd of commands) {
    const r = spawnSync('sh', ['-c', `${define}\n${cmd}`], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 120_000 });
    const expected = /#.*\bexit 1\b/.test(cmd) ? 1 : 0;
    assert.equal(r.status, expected, `${cmd}\nexit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.ok(!/^> capframe@/m.test(r.stdout), `npm's banner in the output of: ${cmd}`);
    if (/^capframe verify .*--json/.test(cmd)) assert.equal((JSON.parse(r.stdout) as { allowed: boolean }).allowed, true, cmd);
    if (/--revocations/.test(cmd)) assert.match(r.stdout, /ERR_REVOKED/, cmd);
  }
  // The files the walkthrough says it writes, with the modes it promises.
  const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
  for (const f of ['authority.key', 'agent.key', 'summarizer.key', 'agent.tok', 'summarizer.tok', 'call.inv']) assert.equal(mode(f), 0o600, f);
  for (const f of ['authority.pub', 'agent.pub', 'summarizer.pub']) assert.match(readFileSync(join(dir, f), 'utf8'), /^cfk1\.[A-Za-z0-9_-]{43}\n$/);
}

describe('README CLI walkthrough', () => {
  const dirs: string[] = [];
  const commands = walkthrough(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` first');
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the block uses the .pub files, never a private key, where a public key is expected', () => {
    assert.ok(commands.length >= 10);
    for (const c of commands) {
      for (const m of c.matchAll(/--(holder|to|trust) (\S+)/g)) assert.match(m[2]!, /\.pub$/, c);
    }
  });

  test('from a clone: npm run -s cli -- …', () => {
    const dir = mkdtempSync(join(tmpdir(), 'capframe-walk-clone-'));
    dirs.push(dir);
    runAll(dir, `capframe() { npm --prefix '${ROOT}' run -s cli -- "$@"; }`, commands);
  });

  test('from an installed package: npx capframe …', () => {
    const dir = mkdtempSync(join(tmpdir(), 'capframe-walk-installed-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'walkthrough', private: true, dependencies: { capframe: `file:${ROOT}` } }));
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(ROOT, join(dir, 'node_modules', 'capframe'), 'dir');
    symlinkSync('../capframe/bin/capframe.js', join(dir, 'node_modules', '.bin', 'capframe'));
    runAll(dir, 'capframe() { npx capframe "$@"; }', commands);
  });
});
