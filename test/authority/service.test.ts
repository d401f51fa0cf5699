/** The authority service over real HTTP: what it refuses, what it issues, what it keeps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { formatPublicKey, generateKey, issueToken, serializePrivateKey, Token, Verifier } from '../../src/index.ts';
import { loadServerConfig, parseServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { AuthorityClient } from '../../src/remote/index.ts';
import { createRequest } from '../../src/authority/request.ts';
import { issueTokenWith } from '../../src/authority/issue.ts';
import { codeDigest, EnrolmentStore, newEnrolmentCode } from '../../src/authority/enrolments.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { decodeRootPayload } from '../../src/token/block.ts';
import { subjectMatches } from '../../src/config/authority.ts';
import { CapframeError } from '../../src/errors.ts';

const SECRET = 'authority-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:test';

function setup(profiles = '') {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-authority-'));
  const authority = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const file = join(dir, 'capframe.yaml');
  writeFileSync(
    file,
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
server:
  port: 0
  authority:
    audience: ${AUDIENCE}
    keyFile: ./authority.key
    db: ./enrolments.db
    requestSkew: 5s
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 2m
        maxDepth: 1
        grants:
          - resource: "tickets://acme/*"
            permissions: [read, comment]
            constraints:
              body: { type: prefix, prefix: "[acme]" }
${profiles}`,
  );
  return { dir, authority, file };
}

test('tokens: exactly the profile, capped TTL, single-use fresh requests for this audience only', async () => {
  const { dir, authority, file } = setup();
  const running = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  const client = new AuthorityClient({ url: running.url, audience: AUDIENCE });
  const key = generateKey();
  try {
    await client.enrol({ holderKey: key, profile: 'support', subject: 'agent:support:1', adminSecret: SECRET });
    // Idempotent: the same enrolment again changes nothing.
    assert.equal((await client.enrol({ holderKey: key, profile: 'support', subject: 'agent:support:1', adminSecret: SECRET })).changed, false);
    // One key, one subject; one subject, one key.
    await assert.rejects(client.enrol({ holderKey: key, profile: 'support', subject: 'agent:support:2', adminSecret: SECRET }), {
      code: 'ERR_INVALID_ARGUMENT',
    });
    await assert.rejects(client.enrol({ holderKey: generateKey(), profile: 'support', subject: 'agent:support:1', adminSecret: SECRET }), {
      code: 'ERR_INVALID_ARGUMENT',
    });

    const got = await client.obtain({ holderKey: key, profile: 'support' });
    const root = decodeRootPayload(got.token.blocks[0]!.payload);
    assert.equal(root.subject, 'agent:support:1');
    assert.equal(root.exp - root.iat, 120);
    assert.equal(root.maxDepth, 1);
    assert.deepEqual(
      root.grants.map((g) => [g.resource, g.permissions, g.constraints]),
      [['tickets://acme/*', ['comment', 'read'], { body: { type: 'prefix', prefix: '[acme]' } }]],
    );
    const v = new Verifier({ trusted: [authority.publicKey] });
    assert.equal(v.verifyToken(got.token).subject, 'agent:support:1');
    // A request may ask for less, never more.
    assert.equal((await client.obtain({ holderKey: key, profile: 'support', ttl: 30 })).expiresAt - got.iat <= 31, true);
    const more = await client.obtain({ holderKey: key, profile: 'support', ttl: 3600 });
    assert.equal(more.expiresAt - more.iat, 120);

    const post = async (body: unknown) => {
      const r = await request(running.url + '/v1/tokens', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: r.statusCode, json: (await r.body.json()) as { code?: string; token?: string } };
    };
    const req = createRequest({ kind: 'token', key, audience: AUDIENCE, profile: 'support' });
    assert.equal((await post({ request: req.text })).status, 200);
    assert.deepEqual(await post({ request: req.text }), { status: 409, json: { code: 'ERR_REPLAY', reason: 'this request was already used' } });
    const other = createRequest({ kind: 'token', key, audience: 'capframe-authority:elsewhere', profile: 'support' });
    assert.equal((await post({ request: other.text })).json.code, 'ERR_UNAUTHORIZED');
    const old = createRequest({ kind: 'token', key, audience: AUDIENCE, profile: 'support', clock: () => Math.floor(Date.now() / 1000) - 600 });
    assert.deepEqual([(await post({ request: old.text })).status, (await post({ request: old.text })).json.code], [401, 'ERR_EXPIRED']);
    const future = createRequest({ kind: 'token', key, audience: AUDIENCE, profile: 'support', clock: () => Math.floor(Date.now() / 1000) + 600 });
    assert.equal((await post({ request: future.text })).json.code, 'ERR_NOT_YET_VALID');
    const enrolAsToken = createRequest({ kind: 'enrolment', key, audience: AUDIENCE, profile: 'support', subject: 'agent:support:1' });
    assert.equal((await post({ request: enrolAsToken.text })).json.code, 'ERR_MALFORMED');
    assert.equal((await post({ request: 'cfq1.AAAA' })).json.code, 'ERR_MALFORMED');
    assert.equal((await post({ request: req.text, extra: 1 })).status, 400);
    // A stranger's key, and a profile the agent is not enrolled under.
    await assert.rejects(client.obtain({ holderKey: generateKey(), profile: 'support' }), { code: 'ERR_UNAUTHORIZED' });
    await assert.rejects(client.obtain({ holderKey: key, profile: 'billing' }), { code: 'ERR_UNAUTHORIZED' });

    // Disenrolment is admin-only; then renewal is refused and the subject cannot come back.
    const r = await request(running.url + '/v1/disenrol', { method: 'POST', body: JSON.stringify({ subject: 'agent:support:1' }) });
    assert.equal(r.statusCode, 401);
    await r.body.dump();
    assert.deepEqual(await client.disenrol('agent:support:1', SECRET), { changed: true, revoked: false });
    await assert.rejects(client.obtain({ holderKey: key, profile: 'support' }), { code: 'ERR_REVOKED' });
    await assert.rejects(client.enrol({ holderKey: key, profile: 'support', subject: 'agent:support:1', adminSecret: SECRET }), { code: 'ERR_REVOKED' });
    // The key may be enrolled again under a new subject.
    assert.equal((await client.enrol({ holderKey: key, profile: 'support', subject: 'agent:support:1b', adminSecret: SECRET })).changed, true);
    assert.equal(running.authority!.counters.disenrolled, 1);
  } finally {
    await client.close();
    await running.close();
  }
  // Enrolment state survives a restart.
  const again = await startService(loadServerConfig(file, { CAPFRAME_ADMIN_SECRET: SECRET }));
  const c2 = new AuthorityClient({ url: again.url, audience: AUDIENCE });
  try {
    assert.equal((await c2.obtain({ holderKey: key, profile: 'support' })).subject, 'agent:support:1b');
  } finally {
    await c2.close();
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('enrolment codes: single use, expiring, bound to their profile and subject, stored as digests', () => {
  const store = new EnrolmentStore({ path: ':memory:' });
  const now = 1_000_000;
  const code = newEnrolmentCode();
  store.addCode(codeDigest(code), 'support', 'agent:support:7', now, now + 60);
  const e = { holder: generateKey().publicKey, profile: 'support', now };
  assert.throws(() => store.enrolWithCode(code, { ...e, subject: 'agent:support:8' }), { code: 'ERR_UNAUTHORIZED' });
  assert.throws(() => store.enrolWithCode(code, { ...e, profile: 'billing', subject: 'agent:support:7' }), { code: 'ERR_UNAUTHORIZED' });
  assert.throws(() => store.enrolWithCode(code, { ...e, subject: 'agent:support:7', now: now + 60 }), { code: 'ERR_UNAUTHORIZED' });
  // Refusals did not use it up; a success does.
  assert.equal(store.enrolWithCode(code, { ...e, subject: 'agent:support:7' }).changed, true);
  assert.throws(() => store.enrolWithCode(code, { ...e, holder: generateKey().publicKey, subject: 'agent:support:7' }), { code: 'ERR_UNAUTHORIZED' });
  assert.throws(() => store.enrolWithCode('cfe1.unknown', { ...e, subject: 'agent:support:9' }), { code: 'ERR_UNAUTHORIZED' });
  store.close();
});

test('issueTokenWith: the same bytes as issueToken with the same key', async () => {
  const key = generateKey();
  const holder = generateKey();
  const o = {
    subject: 'agent:x',
    holder: holder.publicKey,
    grants: [{ resource: 'a://b/*', permissions: ['read'] }],
    ttl: 60,
    clock: () => 1_800_000_000,
    tokenId: new Uint8Array(16).fill(7),
  };
  const a = issueToken({ ...o, key });
  const b = await issueTokenWith(keySigner(key), o);
  assert.equal(String(b), String(a));
  assert.ok(b instanceof Token);
  await assert.rejects(issueTokenWith({ ...keySigner(key), sign: async () => new Uint8Array(10) }, o), { code: 'ERR_SIGNATURE_INVALID' });
});

test('config: profiles are checked with the token rules, named by line; the section is off by default', () => {
  const { dir, file } = setup();
  try {
    const good = loadServerConfig(file, {});
    assert.equal(good.authority!.profiles.support!.ttl, 120);
    const base = `trust:\n  authorities:\n    - ${formatPublicKey(generateKey().publicKey)}\n`;
    assert.equal(parseServerConfig(base).authority, undefined);
    const bad = (profile: string) => {
      try {
        parseServerConfig(`${base}server:\n  authority:\n    audience: a\n    keyFile: k\n    profiles:\n      p:\n${profile}`, { file: 'c.yaml' });
      } catch (e) {
        assert.ok(e instanceof CapframeError && e.code === 'ERR_CONFIG');
        return e.message;
      }
      assert.fail('accepted');
    };
    assert.match(bad('        subject: "a:*"\n        grants:\n          - resource: "x://y/*"\n            permissions: []\n'), /^c\.yaml:1\d .*permissions/);
    assert.match(
      bad(
        '        subject: "a:*"\n        grants:\n          - resource: "x://y/*"\n            permissions: [read]\n            constraints:\n              n: { type: range, min: 5, max: 1 }\n',
      ),
      /c\.yaml:\d+ server\.authority\.profiles\.p\.grants/,
    );
    assert.match(bad('        subject: "a:*"\n        ttl: 2d\n        grants:\n          - resource: "x://y/*"\n            permissions: [read]\n'), /ttl/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('subject patterns: * stands for one or more characters', () => {
  assert.equal(subjectMatches('agent:support:*', 'agent:support:1'), true);
  assert.equal(subjectMatches('agent:support:*', 'agent:support:'), false);
  assert.equal(subjectMatches('agent:*:eu', 'agent:a:eu'), true);
  assert.equal(subjectMatches('agent:*:eu', 'agent::eu'), false);
  assert.equal(subjectMatches('agent:x', 'agent:x'), true);
  assert.equal(subjectMatches('agent:x', 'agent:xy'), false);
  assert.equal(subjectMatches('*a*', 'bab'), true);
  assert.equal(subjectMatches('*a*', 'ab'), false);
});

test('docs/authority.md: its config example parses', () => {
  const doc = readFileSync(new URL('../../docs/authority.md', import.meta.url), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!.replace('- cfk1.…', `- ${formatPublicKey(generateKey().publicKey)}`);
  const cfg = parseServerConfig(yaml, { env: {} });
  assert.deepEqual(Object.keys(cfg.authority!.profiles), ['support', 'billing']);
  assert.equal(cfg.authority!.profiles.billing!.ttl, 120);
});
