/**
 * A slowloris client (many connections, partial headers, or nothing at all;
 * revocation streams held open) cannot deny service to another client: the
 * service caps connections and push streams per remote address, and closes
 * connections that stall before or inside their headers. The attacker
 * connects from 127.0.0.2, the honest client from 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKey, serializePrivateKey, Verifier } from '../../src/index.ts';
import { createVerifyService, startService } from '../../src/server/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';

const authority = generateKey();

function open(port: number, localAddress: string, first?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => {
      if (first) s.write(first);
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** GET path from 127.0.0.1 with a deadline: the status, or 'no answer'. */
function get(port: number, path: string, ms = 3000): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress: '127.0.0.1', agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.setTimeout(ms, () => {
      req.destroy();
      resolve('no answer');
    });
    req.on('error', () => resolve('no answer'));
    req.end();
  });
}

test('connections held with partial headers from one address leave room for other clients', async (t) => {
  const service = createVerifyService({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    maxConnections: 16,
    headersTimeout: 4000,
    requestTimeout: 8000,
  });
  const { port } = await service.listen(0, '127.0.0.1');
  t.after(() => service.close());
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 16; i++) {
    try {
      const s = await open(port, '127.0.0.2', 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
      s.on('error', () => {});
      held.push(s);
    } catch {
      /* refused: the cap at work */
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  const alive = held.filter((s) => !s.destroyed && s.readyState === 'open').length;
  assert.ok(alive <= 4, `at most a quarter of the connections from one address (${alive} held)`);
  assert.equal(await get(port, '/healthz'), 200);
  assert.ok(service.metrics.render().includes('too_many_connections'));
});

test('a connection that never sends a byte is closed after the headers deadline', async (t) => {
  const service = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey] }), headersTimeout: 300, requestTimeout: 1000 });
  const { port } = await service.listen(0, '127.0.0.1');
  t.after(() => service.close());
  const s = await open(port, '127.0.0.2');
  const closed = await new Promise<boolean>((resolve) => {
    s.on('close', () => resolve(true));
    s.on('error', () => {});
    setTimeout(() => resolve(false), 3000);
  });
  assert.equal(closed, true);
});

test('revocation push streams are capped per address; another client still subscribes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(
    join(dir, 'capframe.yaml'),
    `trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\nreplay:\n  store: sqlite\n  path: ./replay.db\nserver:\n  port: 0\n  maxStreamsPerAddress: 3\n  revocation:\n    db: ./authority.db\n    keyFile: ./authority.key\n`,
  );
  const running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), {}));
  t.after(() => running.close());
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  const statusOf = (s: Socket) =>
    new Promise<string>((resolve) => {
      s.once('data', (d) => resolve(d.toString('latin1').split('\r\n')[0]!));
      s.on('error', () => resolve('error'));
    });
  const answers: string[] = [];
  for (let i = 0; i < 5; i++) {
    const s = await open(running.port, '127.0.0.2', 'GET /v1/revocations/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    held.push(s);
    answers.push(await statusOf(s));
  }
  assert.deepEqual(
    answers.map((a) => a.split(' ')[1]),
    ['200', '200', '200', '429', '429'],
  );
  const mine = await open(running.port, '127.0.0.1', 'GET /v1/revocations/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  held.push(mine);
  assert.equal((await statusOf(mine)).split(' ')[1], '200');
});

test('a keep-alive connection in use outlives the first-request deadline', async (t) => {
  const service = createVerifyService({
    verifier: new Verifier({ trusted: [authority.publicKey] }),
    headersTimeout: 400,
    requestTimeout: 1000,
    keepAliveTimeout: 5000,
  });
  const { port } = await service.listen(0, '127.0.0.1');
  t.after(() => service.close());
  let connections = 0;
  service.server.on('connection', () => connections++);
  const s = await open(port, '127.0.0.1');
  t.after(() => s.destroy());
  let got = '';
  s.setEncoding('latin1').on('data', (d: string) => {
    got += d;
  });
  for (let i = 0; i < 5; i++) {
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(got.match(/HTTP\/1\.1 200/g)?.length, 5, 'five answers on one connection over more than the deadline');
  assert.equal(s.destroyed, false);
  assert.equal(connections, 1);
});
