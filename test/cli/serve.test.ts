/**
 * `capframe serve --config FILE` end to end: the built CLI (`node bin/capframe.js`,
 * dist/) as a child process on 127.0.0.1 with `server.port: 0`, one GET /healthz
 * and one POST /v1/verify, then SIGTERM and a clean exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createInvocation, formatPublicKey, generateKey, issueToken } from '../../src/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'capframe.js');

test('capframe serve: prints its address, answers /healthz and /v1/verify, stops on SIGTERM', async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'capframe-serve-'));
  const authority = generateKey();
  const holder = generateKey();
  const file = join(dir, 'capframe.yaml');
  // the agent's sections (tools, remote) are in the same file; serve reads trust: and server:
  writeFileSync(
    file,
    [
      'trust:',
      '  authorities:',
      `    - ${formatPublicKey(authority.publicKey)}`,
      'audit:',
      '  sink: none',
      'tools:',
      '  get_ticket:',
      '    resource: tickets://acme/{id}',
      '    operation: read',
      'server:',
      '  host: 127.0.0.1',
      '  port: 0',
      '  audit:',
      '    path: ./served.jsonl',
      'remote:',
      '  url: http://127.0.0.1:8787',
      'replay:',
      '  store: sqlite',
      '  path: ./replay.db',
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.CAPFRAME_ADMIN_SECRET;
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const safety = setTimeout(() => child.kill('SIGKILL'), 20_000); // never outlive the test
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const look = () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', look);
      void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)));
    });
    assert.match(
      stdout,
      /^capframe serve: listening on http:\/\/127\.0\.0\.1:\d+; console at http:\/\/127\.0\.0\.1:\d+\/ui\/; audit log .*served\.jsonl; \/v1\/revoke disabled \(no admin secret\)\n$/,
    );

    const health = await request(`${url}/healthz`);
    assert.equal(health.statusCode, 200);
    assert.deepEqual(await health.body.json(), { status: 'ok' });

    const token = issueToken({
      key: authority,
      subject: 'agent:cli',
      holder: holder.publicKey,
      ttl: '10m',
      grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    });
    const args = { id: '42' };
    const proof = createInvocation(token, { key: holder, tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args, callId: 'cli-1' });
    const res = await request(`${url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: token.toString(),
        invocation: proof.toString(),
        tool: 'get_ticket',
        operation: 'read',
        resource: 'tickets://acme/42',
        args,
      }),
    });
    assert.equal(res.statusCode, 200);
    const d = (await res.body.json()) as Record<string, unknown>;
    assert.deepEqual(
      [d.allowed, d.mode, d.tool, d.operation, d.resource, d.callId, d.subject],
      [true, 'signed', 'get_ticket', 'read', 'tickets://acme/42', 'cli-1', 'agent:cli'],
    );

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stdout, /capframe serve: stopped\n$/);
    assert.equal(stderr, '');
    assert.ok(existsSync(join(dir, 'served.jsonl')), "server.audit.path resolves against the config file's directory, not the cwd");
  } finally {
    clearTimeout(safety);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
