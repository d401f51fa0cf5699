/** The `subagents:` config section, the file tools' path view, and the import cost of capframe/deepagents. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { generateKey } from '../../src/index.ts';
import { loadConfig, parseConfig } from '../../src/config/parse.ts';
import { definePolicy } from '../../src/config/tools.ts';
import { CapframeError } from '../../src/errors.ts';
import { matchResource, parsePattern } from '../../src/token/resource.ts';
import { defineSubagent, FILE_TOOL_POLICIES, fileToolView } from '../../src/deepagents/index.ts';

const TRUST = `trust:\n  authorities: [${'cfk1.' + Buffer.from(generateKey().publicKey).toString('base64url')}]\n`;

test('subagents: entries parse (permissions, grants, both, ttl, subject, maxDepth)', () => {
  const c = parseConfig(
    TRUST +
      `subagents:
  research: { permissions: [read], ttl: 10m }
  writer:
    permissions: [read, write]
    grants:
      - { resource: 'files://drafts/**', permissions: [write] }
      - { resource: 'files://reports/**' }
  named: { subject: 'agent:named', grants: [{ resource: 'web://a/*', permissions: [get] }], maxDepth: 1 }
`,
  );
  assert.deepEqual(c.subagents!.research, { subject: 'subagent:research', permissions: ['read'], ttl: 600, maxDepth: 0 });
  assert.deepEqual(c.subagents!.writer!.grants, [
    { resource: 'files://drafts/**', permissions: ['write'] },
    { resource: 'files://reports/**', permissions: ['read', 'write'] },
  ]);
  assert.equal(c.subagents!.writer!.permissions, undefined);
  assert.deepEqual(c.subagents!.named, { subject: 'agent:named', grants: [{ resource: 'web://a/*', permissions: ['get'] }], maxDepth: 1 });
  assert.equal(parseConfig(TRUST).subagents, undefined);
});

test('subagents: bad entries are ERR_CONFIG naming the line and field', () => {
  const bad = (body: string, want: RegExp) =>
    assert.throws(
      () => parseConfig(TRUST + 'subagents:\n' + body, { file: 'x.yaml' }),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_CONFIG' && want.test(e.message),
      body,
    );
  bad('  research: {}\n', /x\.yaml:4 subagents\.research: give permissions, grants or both/);
  bad('  research: { permissions: [] }\n', /subagents\.research\.permissions: permissions must be a list/);
  bad('  research: { permissions: [read], ttl: forever }\n', /subagents\.research\.ttl/);
  bad('  research: { permissions: [read], ttl: 90d }\n', /subagents\.research\.ttl: must be between/);
  bad('  research: { permissions: [read], extra: 1 }\n', /subagents\.research\.extra: unknown field/);
  bad(
    '  w:\n    grants:\n      - { resource: "files://a/**" }\n',
    /x\.yaml:6 subagents\.w\.grants\[0\]\.permissions|subagents\.w\.grants\.0\.permissions: is required/,
  );
  bad('  w:\n    permissions: [read]\n    grants:\n      - { resource: "files://a/**", permissions: [write] }\n', /not among the entry's permissions: write/);
  bad('  w:\n    grants:\n      - { resource: "nope", permissions: [read] }\n', /subagents\.w\.grants/);
  bad('  research: { permissions: [read], maxDepth: -1 }\n', /subagents\.research\.maxDepth/);
  assert.throws(() => defineSubagent('x', {}), /ERR_CONFIG|give permissions/);
  assert.deepEqual(defineSubagent('x', { permissions: ['read'], ttl: '1m' }), { subject: 'subagent:x', permissions: ['read'], ttl: 60, maxDepth: 0 });
});

test('file tools: the view makes paths relative; directories are their ~ entry; anything else is refused', () => {
  const render = (tool: string, args: Record<string, unknown>) => definePolicy(tool, FILE_TOOL_POLICIES[tool]!).resource.render(fileToolView(tool, args));
  assert.equal(render('read_file', { file_path: '/reports/q3.md' }), 'files://reports/q3.md');
  assert.equal(render('write_file', { file_path: '/drafts/a b.md', content: '' }), 'files://drafts/a%20b.md');
  assert.equal(render('ls', {}), 'files://~');
  assert.equal(render('ls', { path: '/' }), 'files://~');
  assert.equal(render('ls', { path: '/reports/' }), 'files://reports/~');
  assert.equal(render('grep', { pattern: 'x', path: '/reports/2025' }), 'files://reports/2025/~');
  assert.equal(render('glob', { pattern: '**/*.md' }), 'files://~');
  for (const [tool, args] of [
    ['read_file', { file_path: 'reports/q3.md' }],
    ['read_file', { file_path: '/reports/../secrets' }],
    ['read_file', { file_path: '//reports' }],
    ['read_file', { file_path: '/reports/' }],
    ['read_file', { file_path: '/~/x' }],
    ['read_file', { file_path: '/a/%2e%2e/b' }],
    ['read_file', { file_path: '/a\\..\\b' }],
    ['read_file', { file_path: 42 }],
    ['ls', { path: '/reports//' }],
    ['glob', { pattern: '../x/*', path: '/reports' }],
    ['grep', { pattern: 'x', path: '/reports', glob: 'a/../../b' }],
  ] as const) {
    assert.throws(
      () => render(tool, args as Record<string, unknown>),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_SCOPE_RESOURCE',
      `${tool} ${JSON.stringify(args)}`,
    );
  }
});

test('file tools (property): a path allowed under files://reports/** is a path under /reports the tool reads as written', () => {
  const pattern = parsePattern('files://reports/**');
  const seg = fc.constantFrom('reports', 'a', 'q3.md', '.', '..', '~', '', ' ', '%2e', '%2F', '\\', 'ｒeports', '．．', 'a.b', '…');
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 5 }), fc.boolean(), (segs, lead) => {
      const p = (lead ? '/' : '') + segs.join('/');
      for (const tool of ['read_file', 'write_file', 'ls']) {
        const arg = tool === 'ls' ? 'path' : 'file_path';
        let resource: string;
        try {
          resource = definePolicy(tool, FILE_TOOL_POLICIES[tool]!).resource.render(fileToolView(tool, { [arg]: p }));
        } catch (e) {
          assert.ok(e instanceof CapframeError && e.code === 'ERR_SCOPE_RESOURCE');
          continue;
        }
        if (!matchResource(pattern, resource)) continue;
        // What the file system would open is the path as written, under /reports.
        const normal = posix.normalize(p);
        assert.ok(normal === p || normal === p.replace(/\/$/, '') || normal + '/' === p, `${p} -> ${normal}`);
        assert.ok(normal.startsWith('/reports/') || (tool === 'ls' && normal === '/reports'), `${tool} ${p} -> ${resource}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test('importing capframe (core) or capframe/langchain does not load deepagents', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const hook = `let port; export function initialize(d) { port = d.port; }
export async function resolve(s, c, next) { const r = await next(s, c); if (/[\\\\/]node_modules[\\\\/](deepagents|@langchain[\\\\/]langgraph)[\\\\/]/.test(r.url)) port.postMessage(r.url); return r; }`;
  const script = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (u) => seen.push(u));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] });
await import('./src/index.ts');
await import('./src/langchain/index.ts');
await new Promise((r) => setTimeout(r, 200));
const before = seen.length;
await import('./src/deepagents/index.ts');
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ before, after: seen.length }));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { before: number; after: number };
  assert.equal(before, 0, 'core and capframe/langchain loaded deepagents or langgraph');
  assert.ok(after > 0, 'control: the hook sees deepagents once capframe/deepagents is imported');
});

test('the example config at the repository root has a valid subagents: section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cfg-'));
  try {
    writeFileSync(join(dir, 'authority.pub'), 'cfk1.' + Buffer.from(generateKey().publicKey).toString('base64url') + '\n');
    const cfg = loadConfig(fileURLToPath(new URL('../../capframe.config.example.yaml', import.meta.url)), {
      env: { CAPFRAME_KEYS: dir, CAPFRAME_AUDIT_DIR: dir },
    });
    assert.deepEqual(
      { ...cfg.subagents },
      {
        research: { subject: 'subagent:research', permissions: ['read'], ttl: 600, maxDepth: 0 },
        writer: {
          subject: 'agent:writer',
          grants: [
            { resource: 'files://drafts/**', permissions: ['read', 'write'] },
            { resource: 'files://reports/**', permissions: ['read'] },
          ],
          maxDepth: 0,
        },
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
