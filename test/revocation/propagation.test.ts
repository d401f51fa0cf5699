import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPublicKey, generateKey, serializePrivateKey } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { chainFixture, tempDir } from './helpers.ts';

type Msg = Record<string, unknown>;

function start(file: string, args: string[], t: { after(fn: () => void): void }): { child: ChildProcess; next: () => Promise<Msg> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', file), ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const queue: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  child.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m as Msg);
    else queue.push(m as Msg);
  });
  const next = () =>
    new Promise<Msg>((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`${file}: no message within 20 s`)), 20_000);
      waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  return { child, next };
}

test('a revocation reaches two verifiers in separate processes through the push stream', async (t) => {
  const dir = tempDir(t);
  const authority = generateKey();
  const keyPath = join(dir, 'authority.key.json');
  writeFileSync(keyPath, serializePrivateKey(authority), { mode: 0o600 });
  const dbPath = join(dir, 'authority.db');
  const f = chainFixture(authority);

  const auth = start('authority.ts', [dbPath, keyPath], t);
  const { url } = (await auth.next()) as { url: string };
  const pub = formatPublicKey(authority.publicKey);
  const v1 = start('verifier.ts', [url, pub, f.grandchild.toString()], t);
  const v2 = start('verifier.ts', [url, pub, f.child.toString()], t);
  const [r1, r2] = await Promise.all([v1.next(), v2.next()]);
  assert.deepEqual([r1.ready, r1.allowed, r2.ready, r2.allowed], [true, true, true, true]);

  // The operator revokes through its own connection to the database (as `capframe revoke` does);
  // the authority process notices the commit and pushes the new snapshot.
  const operator = new RevocationRegistry({ path: dbPath });
  t.after(() => operator.close());
  const t0 = Date.now();
  const res = operator.revokeToken(f.child, { reason: 'propagation test' });
  const [d1, d2] = await Promise.all([v1.next(), v2.next()]);
  const elapsed = Date.now() - t0;
  assert.deepEqual([d1.denied, d1.code, d1.version], [true, 'ERR_REVOKED', res.version]);
  assert.deepEqual([d2.denied, d2.code, d2.version], [true, 'ERR_REVOKED', res.version]);
  assert.ok(elapsed < 5000, `both verifiers denied within ${elapsed} ms`);
  t.diagnostic(`revoke -> both verifiers deny: ${elapsed} ms`);
  auth.child.send('stop');
});
