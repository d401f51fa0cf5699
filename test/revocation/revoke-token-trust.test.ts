import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CapframeError } from '../../src/errors.ts';
import { generateKey, issueToken, Keyring } from '../../src/index.ts';
import { RevocationRegistry } from '../../src/revocation/registry.ts';
import { tempDir } from './helpers.ts';

test("revokeToken: only a verified token's expiry bounds how long the revocation is kept", (t) => {
  const authority = generateKey();
  const forger = generateKey();
  const agent = generateKey();
  const grants = [{ resource: 'db://t/*', permissions: ['read'] }];
  const real = issueToken({ key: authority, subject: 'agent:a', holder: agent.publicKey, grants, ttl: '1h' });
  const forged = issueToken({ key: forger, subject: 'agent:a', holder: agent.publicKey, grants, ttl: 60 });
  const reg = new RevocationRegistry({ path: join(tempDir(t), 'a.db') });
  try {
    // Unverified: revoked, but kept without an expiry (never pruned on the token's word).
    const unverified = reg.revokeToken(forged);
    assert.equal(reg.view().ids.find((r) => r.id === unverified.target)?.expiresAt, null);
    // Verified against the authority: a forged token is refused and nothing is recorded for it.
    const before = reg.view().ids.length;
    assert.throws(
      () =>
        reg.revokeToken(
          real.toString().replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
          { trusted: new Keyring([authority.publicKey]) },
        ),
      (e: unknown) => e instanceof CapframeError,
    );
    assert.throws(
      () => reg.revokeToken(forged, { trusted: new Keyring([authority.publicKey]) }),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNKNOWN_KEY',
    );
    assert.equal(reg.view().ids.length, before);
    // Verified: the real expiry is recorded.
    const ok = reg.revokeToken(real, { trusted: new Keyring([authority.publicKey]) });
    const row = reg.view().ids.find((r) => r.id === ok.target);
    assert.ok(row && typeof row.expiresAt === 'number' && row.expiresAt > Math.floor(Date.now() / 1000));
  } finally {
    reg.close();
  }
});
