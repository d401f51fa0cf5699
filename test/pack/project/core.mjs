// Run inside a fresh project that installed the packed tarball with only @langchain/core and zod.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { generateKey, issueToken, Verifier } from 'capframe';
import { Guard, guardTool, memorySink } from 'capframe/langchain';

const require = createRequire(import.meta.url);
assert.throws(() => require.resolve('langchain'), /Cannot find module/, 'this check needs a project without langchain');
assert.throws(() => require.resolve('better-sqlite3'), /Cannot find module/, 'better-sqlite3 is an optional peer: not installed');
// The middleware needs langchain: its own entry point, which alone fails to load.
await assert.rejects(import('capframe/langchain/middleware'), (e) => e.code === 'ERR_MODULE_NOT_FOUND' && /'langchain'/.test(e.message));
// So does the Deep Agents integration (it needs deepagents and langchain, optional peers).
await assert.rejects(import('capframe/deepagents'), (e) => e.code === 'ERR_MODULE_NOT_FOUND');

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:pack',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});
const ran = [];
const make = (name) =>
  tool(
    async ({ id }) => {
      ran.push(name);
      return `${name} ${id}`;
    },
    { name, description: `${name} tool`, schema: z.object({ id: z.string() }) },
  );
const sink = memorySink();
const guard = new Guard({
  verifier: new Verifier({ trusted: [authority.publicKey] }),
  sink,
  policies: {
    get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' },
    delete_ticket: { resource: 'tickets://acme/{id}', operation: 'delete' },
  },
});
const run = { configurable: { capframe: { token, holderKey: holder } } };
const ok = await guardTool(make('get_ticket'), guard).invoke({ type: 'tool_call', id: 'c1', name: 'get_ticket', args: { id: '7' } }, run);
assert.equal(ok.content, 'get_ticket 7');
const denied = await guardTool(make('delete_ticket'), guard).invoke({ type: 'tool_call', id: 'c2', name: 'delete_ticket', args: { id: '7' } }, run);
assert.equal(denied.status, 'error');
assert.equal(denied.artifact.capframe.code, 'ERR_SCOPE_PERMISSION');
assert.deepEqual(ran, ['get_ticket']);
assert.deepEqual(
  sink.events.map((e) => e.decision),
  ['allow', 'deny'],
);
console.log('core ok');

// The web console's page ships in the package, and the two browser modules it serves resolve from it.
const pkgDir = join(dirname(require.resolve('capframe')), '..');
for (const f of ['index.html', 'app.js', 'style.css', 'pages/live.js'])
  assert.ok(existsSync(join(pkgDir, 'dist', 'ui', f)), `dist/ui/${f} is not in the package`);
const fromConsole = createRequire(join(pkgDir, 'dist', 'server', 'console', 'assets.js'));
for (const dep of ['preact', 'htm']) assert.ok(fromConsole.resolve(dep), `${dep} does not resolve from the package`);
console.log('console files ok');
