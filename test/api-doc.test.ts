/**
 * docs/api.md lists every runtime name of every entry point, and nothing else;
 * the root export stays small (at most 25 names).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };
const doc = readFileSync(fileURLToPath(new URL('../docs/api.md', import.meta.url)), 'utf8');

/** Entry point (`capframe`, `capframe/x`) -> the names its section lists. */
function documented(): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of doc.split('\n')) {
    const h = /^## `(capframe(?:\/[a-z/]+)?)`/.exec(line);
    if (h) {
      current = new Set();
      sections.set(h[1]!, current);
      continue;
    }
    if (!current || !line.startsWith('- `')) continue;
    const head = line.slice(2, line.indexOf(':') === -1 ? undefined : line.indexOf('`:') + 1);
    for (const m of head.matchAll(/`([A-Za-z_$][\w$]*)/g)) current.add(m[1]!);
  }
  return sections;
}

function sourceOf(subpath: string): URL {
  const entry = pkg.exports[subpath] as { default: string };
  return new URL(`../${entry.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')}`, import.meta.url);
}

test('docs/api.md names exactly the runtime exports of every entry point', async () => {
  const sections = documented();
  const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json');
  assert.deepEqual([...sections.keys()].sort(), entries.map((k) => (k === '.' ? 'capframe' : `capframe/${k.slice(2)}`)).sort());
  for (const k of entries) {
    const name = k === '.' ? 'capframe' : `capframe/${k.slice(2)}`;
    const mod = (await import(sourceOf(k).href)) as Record<string, unknown>;
    assert.deepEqual([...sections.get(name)!].sort(), Object.keys(mod).sort(), `${name}: docs/api.md and the exports differ`);
  }
});

test('the root export has at most 25 names', async () => {
  const root = (await import('../src/index.ts')) as Record<string, unknown>;
  assert.ok(Object.keys(root).length <= 25, `${Object.keys(root).length} names`);
});
