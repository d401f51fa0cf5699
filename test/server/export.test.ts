import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createInvocation, formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../../src/index.ts';
import { verifyAuditLog } from '../../src/audit/index.ts';
import { startService } from '../../src/server/index.ts';
import { parseServerConfig } from '../../src/config/server.ts';

const authority = generateKey();
const serviceKey = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:a',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});

test('service: a SIEM that stops reading never slows or fails a decision; drops show in /metrics; the log is checkpointed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-export-'));
  const stalled = createServer((s) => s.pause());
  await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', () => r()));
  const port = (stalled.address() as { port: number }).port;
  writeFileSync(join(dir, 'service.key'), serializePrivateKey(serviceKey), { mode: 0o600 });
  const yaml = `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
replay:
  store: sqlite
  path: ./replay.db
server:
  port: 0
  audit:
    path: ./audit.jsonl
    checkpoint:
      keyFile: ./service.key
      everyLines: 50
    export:
      - syslog: { host: 127.0.0.1, port: ${port}, protocol: tcp }
        format: ocsf
        maxQueue: 100
      - file: ./ocsf.jsonl
`;
  const running = await startService(parseServerConfig(yaml, { file: join(dir, 'c.yaml'), baseDir: dir, env: {} }));
  try {
    const big = 'x'.repeat(900);
    let allowed = 0;
    // 100 batches of 64: far more than the socket buffers of a stalled loopback connection hold.
    for (let b = 0; b < 100; b++) {
      const requests = [];
      for (let k = 0; k < 64; k++) {
        const i = b * 64 + k;
        const resource = `tickets://acme/${i}-${big}`;
        const invocation = createInvocation(token, { key: holder, tool: 'get', operation: 'read', resource, args: { i } }).toString();
        requests.push({ token: token.toString(), invocation, tool: 'get', operation: 'read', resource, args: { i } });
      }
      const r = await request(running.url + '/v1/verify/batch', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requests }),
      });
      const { decisions } = (await r.body.json()) as { decisions: { allowed: boolean }[] };
      allowed += decisions.filter((d) => d.allowed).length;
    }
    assert.equal(allowed, 6400, 'every decision stands while the SIEM is stalled');
    const metrics = await (await request(running.url + '/metrics')).body.text();
    const dropped = Number(/capframe_export_dropped_total\{sink="syslog-tcp:127\.0\.0\.1:\d+"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(
      dropped > 0,
      `drops counted in /metrics:\n${metrics
        .split('\n')
        .filter((l) => l.includes('export'))
        .join('\n')}`,
    );
    assert.match(metrics, /capframe_export_sent_total\{sink="file:[^"]+ocsf\.jsonl"\} \d+/);
    assert.match(metrics, /capframe_audit_checkpoint_seq [1-9]/);
  } finally {
    await running.close();
    stalled.close();
  }
  try {
    const ocsf = readFileSync(join(dir, 'ocsf.jsonl'), 'utf8').trim().split('\n');
    assert.equal(ocsf.length, 6400, 'the file export kept up');
    assert.equal((JSON.parse(ocsf[0]!) as { class_uid: number }).class_uid, 6003);
    const v = verifyAuditLog(join(dir, 'audit.jsonl'), { trust: [serviceKey.publicKey], maxUncovered: 0 });
    assert.equal(v.ok, true, v.problem?.message);
    assert.ok(v.checkpoint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
