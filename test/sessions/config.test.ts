// `server.sessions` and `remote.serviceKey` in the YAML config: parsed, started, used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKey, issueToken } from '../../src/index.ts';
import { serializePrivateKey } from '../../src/crypto/keys.ts';
import { parseConfig } from '../../src/config/index.ts';
import { parseServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { remoteVerifierFromConfig } from '../../src/remote/client.ts';

test('capframe serve with server.sessions, and a client from remote.serviceKey: calls go over sessions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-sessions-cfg-'));
  const authority = generateKey();
  const holder = generateKey();
  const service = generateKey();
  writeFileSync(join(dir, 'service.key'), serializePrivateKey(service), { mode: 0o600 });
  const trust = `trust:\n  authorities: [${formatPublicKey(authority.publicKey)}]\n`;
  const cfg = parseServerConfig(`${trust}server:\n  port: 0\n  sessions:\n    keyFile: ./service.key\n    maxTtl: 600\n    maxPerHolder: 4\n`, {
    baseDir: dir,
  });
  const running = await startService(cfg);
  try {
    const client = parseConfig(`${trust}remote:\n  url: ${running.url}\n  serviceKey: ${formatPublicKey(service.publicKey)}\n  sessionTtl: 3600\n`);
    const rv = remoteVerifierFromConfig(client.remote!);
    assert.equal(rv.sessions, true);
    const token = issueToken({
      key: authority,
      subject: 'agent:c',
      holder: holder.publicKey,
      ttl: '1h',
      grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
    });
    const d = await rv.verifyCall(
      token,
      { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/1', args: { id: 1 }, callId: 'cfg-1' },
      { holderKey: holder },
    );
    assert.equal(d.allowed, true);
    assert.equal(d.mode, 'session');
    // capframe serve offers the stream binding (§13.7.1), and the client takes it by default.
    assert.equal(rv.sessionTransport, 'stream');
    assert.equal(rv.sessionStats.streams, 1);
    await rv.close();
    const overHttp = remoteVerifierFromConfig(
      parseConfig(`${trust}remote:\n  url: ${running.url}\n  serviceKey: ${formatPublicKey(service.publicKey)}\n  sessionTransport: http\n`).remote!,
    );
    assert.equal(overHttp.sessionTransport, 'http');
    await overHttp.close();
    assert.throws(
      () => parseConfig(`${trust}remote:\n  url: ${running.url}\n  serviceKey: ${formatPublicKey(service.publicKey)}\n  sessionTransport: udp\n`),
      /sessionTransport/,
    );
    assert.throws(() => parseConfig(`${trust}remote:\n  url: ${running.url}\n  serviceKey: nope\n`), /serviceKey/);
    assert.throws(() => parseServerConfig(`${trust}server:\n  sessions:\n    maxTtl: 600\n`, { baseDir: dir }), /keyFile/);
    await assert.rejects(
      startService(parseServerConfig(`${trust}server:\n  port: 0\n  sessions:\n    keyFile: ./missing.key\n`, { baseDir: dir })),
      /ERR_CONFIG|keyFile/,
    );
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
