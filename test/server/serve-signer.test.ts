/**
 * `capframe serve` signing through a signer URI (`signer:` instead of `keyFile:`) in
 * server.revocation and server.authority: the config, and the service end to end with a
 * `file:` signer (the async signing path: snapshots, deltas, the compact form, tokens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { formatPublicKey, generateKey, serializePrivateKey, Verifier } from '../../src/index.ts';
import { parseServerConfig, loadServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { AuthorityClient } from '../../src/remote/index.ts';
import { Keyring } from '../../src/verify/keyring.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { loadSnapshotCheck, parseBloomForm, RevocationRegistry, SnapshotPublisher } from '../../src/revocation/index.ts';
import { CapframeError } from '../../src/errors.ts';

const SECRET = 'serve-signer-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:signer-test';

function configText(pub: string, rev: string, auth: string): string {
  return `trust:
  authorities:
    - ${pub}
server:
  port: 0
  revocation:
    db: ./authority.db
${rev}
  authority:
    audience: ${AUDIENCE}
${auth}
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 2m
        grants:
          - resource: "tickets://acme/*"
            permissions: [read]
`;
}

function configError(text: string): string {
  try {
    parseServerConfig(text, { file: 'c.yaml', baseDir: '/nonexistent', env: {} });
  } catch (e) {
    assert.ok(e instanceof CapframeError);
    assert.equal(e.code, 'ERR_CONFIG');
    return e.message;
  }
  assert.fail('expected ERR_CONFIG');
}

test('config: signer: is the alternative to keyFile: (exactly one), its URI checked at load with file:line', () => {
  const pub = formatPublicKey(generateKey().publicKey);
  const cfg = parseServerConfig(configText(pub, "    signer: 'file:./rev.key'", "    signer: 'pkcs11:token=capframe;object=root?module-path=/usr/lib/x.so'"), {
    file: 'c.yaml',
    baseDir: '/etc/capframe',
    env: {},
  });
  assert.deepEqual(cfg.revocation!.signer, { uri: 'file:./rev.key', cwd: '/etc/capframe' });
  assert.equal(cfg.revocation!.keyFile, undefined);
  assert.equal(cfg.authority!.signer!.uri, 'pkcs11:token=capframe;object=root?module-path=/usr/lib/x.so');
  assert.equal(cfg.authority!.keyFile, undefined);
  // keyFile still works, resolved against the config's directory.
  assert.equal(
    parseServerConfig(configText(pub, '    keyFile: ./a.key', '    keyFile: ./a.key'), { baseDir: '/etc/capframe', env: {} }).authority!.keyFile,
    '/etc/capframe/a.key',
  );

  // Both, neither, a bad URI (its line), a PIN in the URI (refused, never repeated).
  assert.match(
    configError(configText(pub, '    keyFile: ./a.key\n    signer: file:./a.key', '    keyFile: ./a.key')),
    /^c\.yaml:\d+ server\.revocation\.signer: give keyFile .* or signer/,
  );
  assert.match(configError(configText(pub, '    keyFile: ./a.key', '')), /^c\.yaml:\d+ server\.authority\.keyFile: give keyFile/);
  assert.match(
    configError(configText(pub, '    signer: vault:root', '    keyFile: ./a.key')),
    /^c\.yaml:8 server\.revocation\.signer: signer "vault:root": a signer URI starts with/,
  );
  const pin = configError(configText(pub, '    keyFile: ./a.key', "    signer: 'pkcs11:token=t;object=o;pin-value=123456'"));
  assert.match(pin, /server\.authority\.signer: .*a PIN is never part of a signer URI/);
  assert.doesNotMatch(pin, /123456/);
});

test('serve with `signer: file:…`: tokens, signed snapshot, push deltas and the compact form all through the async signer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-serve-signer-'));
  const authority = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const file = join(dir, 'capframe.yaml');
  writeFileSync(file, configText(formatPublicKey(authority.publicKey), '    signer: file:./authority.key', "    signer: 'file:authority.key'"));
  // Started from another directory: the URI's path is the config's, not the cwd's.
  const running = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  const client = new AuthorityClient({ url: running.url, audience: AUDIENCE });
  const stream = new AbortController();
  try {
    // The first snapshot was signed before the service answered anything.
    assert.equal(running.revocation!.state.versionOf(Buffer.from(authority.kid).toString('base64url')) >= 0, true);
    const holder = generateKey();
    await client.enrol({ holderKey: holder, profile: 'support', subject: 'agent:support:1', adminSecret: SECRET });
    const got = await client.obtain({ holderKey: holder, profile: 'support' });
    const trusted = [authority.publicKey];
    assert.equal(new Verifier({ trusted }).verifyToken(got.token).subject, 'agent:support:1');
    assert.equal(running.verifier.verifyToken(got.token).subject, 'agent:support:1');

    const sse = await request(running.url + '/v1/revocations/stream', { signal: stream.signal });
    assert.equal(sse.statusCode, 200);
    let seen = '';
    const events = (async () => {
      for await (const chunk of sse.body) seen += String(chunk);
    })().catch(() => undefined);
    const until = async (re: RegExp) => {
      for (let i = 0; i < 600 && !re.test(seen); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(seen, re);
    };
    await until(/event: snapshot\nid: \d+\ndata: cfr1\./);

    // Disenrolment revokes the subject: in force on the service before the answer…
    assert.deepEqual(await client.disenrol('agent:support:1', SECRET), { changed: true, revoked: true });
    const chain = running.verifier.verifyToken(got.token);
    const now = Math.floor(Date.now() / 1000);
    assert.throws(() => running.revocation!.state.check(chain, now), { code: 'ERR_REVOKED' });
    // …pushed as a signed delta…
    await until(/event: delta\nid: \d+\ndata: cfd1\./);
    // …and in the snapshot and the compact form served over HTTP, both signed by the authority key.
    const snap = await request(running.url + '/v1/revocations');
    assert.equal(snap.statusCode, 200);
    const check = loadSnapshotCheck((await snap.body.text()).trim(), trusted);
    assert.throws(() => check.check(chain, now), { code: 'ERR_REVOKED' });
    const bloom = await request(running.url + '/v1/revocations/bloom');
    assert.equal(bloom.statusCode, 200);
    const form = parseBloomForm((await bloom.body.text()).trim(), new Keyring(trusted));
    assert.deepEqual(form.subjects, ['agent:support:1']);
    assert.equal(form.kid, Buffer.from(authority.kid).toString('base64url'));
    stream.abort();
    await events;
  } finally {
    stream.abort();
    await client.close();
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: a signer whose key is not trusted, or that cannot be opened, stops the start (ERR_CONFIG naming the field)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-serve-signer-'));
  const authority = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  writeFileSync(join(dir, 'other.key'), serializePrivateKey(generateKey()), { mode: 0o600 });
  const pub = formatPublicKey(authority.publicKey);
  const start = async (rev: string, auth: string) => {
    const file = join(dir, 'capframe.yaml');
    writeFileSync(file, configText(pub, rev, auth));
    return startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  };
  try {
    await assert.rejects(start('    signer: file:./other.key', '    keyFile: ./authority.key'), {
      code: 'ERR_CONFIG',
      message: /the revocation signing key is not one of the trusted authority keys/,
    });
    await assert.rejects(start('    keyFile: ./authority.key', '    signer: file:./other.key'), {
      code: 'ERR_CONFIG',
      message: /server\.authority\.signer: the key is not one of the trusted authority keys/,
    });
    await assert.rejects(start('    signer: file:./missing.key', '    keyFile: ./authority.key'), {
      code: 'ERR_CONFIG',
      message: /capframe\.yaml: server\.revocation\.signer: signer key file "\.\/missing\.key": cannot read \(ENOENT\)/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SnapshotPublisher.currentBloomAsync: through a Signer, the bytes of currentBloom() with the key', async () => {
  const key = generateKey();
  const registry = new RevocationRegistry({ path: ':memory:' });
  try {
    registry.revokeId('00112233445566778899aabbccddeeff');
    registry.revokeSubject('agent:x');
    const clock = () => 1_800_000_000;
    const sync = new SnapshotPublisher({ registry, key, clock }).currentBloom();
    const viaSigner = new SnapshotPublisher({ registry, signer: keySigner(key), clock });
    const form = await viaSigner.currentBloomAsync();
    assert.equal(form.text, sync.text);
    assert.throws(() => viaSigner.currentBloom(), { code: 'ERR_INVALID_ARGUMENT' });
    const parsed = parseBloomForm(form.text, new Keyring([key.publicKey]));
    assert.deepEqual([parsed.count, parsed.subjects], [1, ['agent:x']]);
  } finally {
    registry.close();
  }
});
