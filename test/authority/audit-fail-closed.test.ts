/** Enrolment changes that cannot be audited are not made (docs/authority.md: fail closed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { createRequest } from '../../src/authority/request.ts';
import { codeDigest, EnrolmentStore, newEnrolmentCode } from '../../src/authority/enrolments.ts';
import { createAuthority } from '../../src/server/authority.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';

const AUDIENCE = 'capframe-authority:audit';
const now = () => Math.floor(Date.now() / 1000);

function setup() {
  const store = new EnrolmentStore({ path: ':memory:' });
  let broken = true;
  const lines: Record<string, unknown>[] = [];
  const authority = createAuthority({
    audience: AUDIENCE,
    profiles: {
      support: { name: 'support', subject: 'agent:support:*', ttl: 60, maxDepth: 0, grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }] },
    },
    signer: keySigner(generateKey()),
    store,
    replay: new MemoryReplayStore(),
    audit: (e: Record<string, unknown>) => {
      if (broken) throw new Error('disk full');
      lines.push(e);
    },
  });
  return { store, authority, lines, repair: () => (broken = false) };
}

const enrolment = (key: ReturnType<typeof generateKey>, subject: string) =>
  createRequest({ kind: 'enrolment', key, audience: AUDIENCE, profile: 'support', subject }).text;

test('enrolment (admin): an audit line that cannot be written refuses the enrolment and changes nothing', async () => {
  const { store, authority, lines, repair } = setup();
  const key = generateKey();
  await assert.rejects(authority.enrol(enrolment(key, 'agent:support:1'), undefined, true), { code: 'ERR_UNAVAILABLE' });
  assert.equal(store.get('agent:support:1'), undefined, 'an unaudited enrolment was kept');
  repair();
  const r = await authority.enrol(enrolment(key, 'agent:support:1'), undefined, true);
  assert.equal(r.changed, true);
  assert.deepEqual(
    lines.map((l) => [l.operation, l.subject]),
    [['enrol', 'agent:support:1']],
  );
  authority.close();
});

test('enrolment (code): an audit line that cannot be written refuses the enrolment, and the code stays usable', async () => {
  const { store, authority, repair } = setup();
  const code = newEnrolmentCode();
  store.addCode(codeDigest(code), 'support', undefined, now(), now() + 600);
  const key = generateKey();
  await assert.rejects(authority.enrol(enrolment(key, 'agent:support:2'), code, false), { code: 'ERR_UNAVAILABLE' });
  assert.equal(store.get('agent:support:2'), undefined, 'an unaudited enrolment was kept');
  repair();
  assert.equal((await authority.enrol(enrolment(key, 'agent:support:2'), code, false)).changed, true);
  authority.close();
});

test('token requests: a profile narrowed after an enrolment no longer issues to subjects outside its pattern', async () => {
  const profiles: Record<string, { name: string; subject: string; ttl: number; maxDepth: number; grants: { resource: string; permissions: string[] }[] }> = {
    support: { name: 'support', subject: 'agent:support:*', ttl: 60, maxDepth: 0, grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }] },
  };
  const authority = createAuthority({
    audience: AUDIENCE,
    profiles,
    signer: keySigner(generateKey()),
    store: new EnrolmentStore({ path: ':memory:' }),
    replay: new MemoryReplayStore(),
  });
  const key = generateKey();
  await authority.enrol(enrolment(key, 'agent:support:old-1'), undefined, true);
  const ask = () => authority.issue(createRequest({ kind: 'token', key, audience: AUDIENCE, profile: 'support' }).text);
  assert.equal((await ask()).subject, 'agent:support:old-1');
  profiles.support = { ...profiles.support!, subject: 'agent:support:new-*' };
  await assert.rejects(ask(), { code: 'ERR_UNAUTHORIZED' });
  authority.close();
});
