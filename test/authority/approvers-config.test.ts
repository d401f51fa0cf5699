/**
 * Approvers by name: the top-level `approvers:` section names approver keys (inline or a .pub
 * file) and approval gates in authority profiles and sub-agent grants may use the names; the
 * gate is the keys (a token issued under the profile carries them and is gated by them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKey, Verifier } from '../../src/index.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { parseServerConfig } from '../../src/config/server.ts';
import { issueTokenWith } from '../../src/authority/issue.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { decodeRootPayload } from '../../src/token/block.ts';
import { CapframeError } from '../../src/errors.ts';

const alice = generateKey();
const bob = generateKey();
const carol = generateKey();
const authority = generateKey();

function text(approvers: string, gate: string, sub = gate): string {
  return `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
approvers:
${approvers}
server:
  authority:
    audience: capframe-authority:t
    keyFile: ./authority.key
    profiles:
      mailer:
        subject: "agent:mailer:*"
        grants:
          - resource: "mail://outbox/*"
            permissions: [send]
            tools: [send_email]
            approval: ${gate}
subagents:
  writer:
    grants:
      - resource: "mail://outbox/*"
        permissions: [send]
        approval: ${sub}
`;
}

function configError(t: string, baseDir = '/nonexistent'): string {
  try {
    parseServerConfig(t, { file: 'c.yaml', baseDir, env: {} });
  } catch (e) {
    assert.ok(e instanceof CapframeError);
    assert.equal(e.code, 'ERR_CONFIG');
    return e.message;
  }
  assert.fail('expected ERR_CONFIG');
}

test('approvers: names (inline keys and .pub files) resolve to keys in profile and sub-agent gates; issued tokens carry the keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-approvers-'));
  try {
    writeFileSync(join(dir, 'bob.pub'), formatPublicKey(bob.publicKey) + '\n');
    const t = text(
      `  alice: ${formatPublicKey(alice.publicKey)}\n  bob: ./bob.pub\n`,
      `{ approvers: [alice, bob, ${formatPublicKey(carol.publicKey)}], threshold: 2 }`,
      '{ approvers: [bob], threshold: 1 }',
    );
    const cfg = parseServerConfig(t, { file: 'c.yaml', baseDir: dir, env: {} });
    assert.deepEqual(cfg.base.approvers, { alice: formatPublicKey(alice.publicKey), bob: formatPublicKey(bob.publicKey) });
    const grant = cfg.authority!.profiles.mailer!.grants[0]!;
    assert.deepEqual(grant.approval, {
      approvers: [formatPublicKey(alice.publicKey), formatPublicKey(bob.publicKey), formatPublicKey(carol.publicKey)],
      threshold: 2,
    });
    assert.deepEqual(cfg.base.subagents!.writer!.grants![0]!.approval, { approvers: [formatPublicKey(bob.publicKey)], threshold: 1 });

    // A token of the profile carries the gate as keys, and a call under it needs 2 approvals.
    const holder = generateKey();
    const token = await issueTokenWith(keySigner(authority), {
      subject: 'agent:mailer:1',
      holder: holder.publicKey,
      grants: cfg.authority!.profiles.mailer!.grants,
      ttl: 60,
    });
    const gate = decodeRootPayload(token.blocks[0]!.payload).grants[0]!.approval!;
    assert.equal(gate.threshold, 2);
    const want = [alice, bob, carol].map((k) => Buffer.from(k.publicKey).toString('hex')).sort();
    assert.deepEqual(
      gate.approvers.map((k) => Buffer.from(k).toString('hex')),
      want,
    );
    const v = new Verifier({ trusted: [authority.publicKey] });
    const d = await v.authorize(token, { tool: 'send_email', operation: 'send', resource: 'mail://outbox/x', args: { to: 'x' }, callId: 'c1' });
    assert.equal(d.allowed, false);
    assert.equal(!d.allowed && d.code, 'ERR_APPROVAL_REQUIRED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('approvers: an unknown name, a bad key, an unreadable file or a bad name is ERR_CONFIG at its line', () => {
  const known = `  alice: ${formatPublicKey(alice.publicKey)}\n`;
  // Line 18 is the profile's approval, line 24 the sub-agent's.
  assert.match(
    configError(text(known, '{ approvers: [alice, mallory], threshold: 1 }', '{ approvers: [alice], threshold: 1 }')),
    /^c\.yaml:18 server\.authority\.profiles\.mailer\.grants\[0\]\.approval\.approvers\[1\]: unknown approver "mallory"/,
  );
  assert.match(
    configError(text(known, '{ approvers: [alice], threshold: 1 }', '{ approvers: [eve], threshold: 1 }')),
    /^c\.yaml:24 subagents\.writer\.grants\[0\]\.approval\.approvers\[0\]: unknown approver "eve"/,
  );
  assert.match(configError(text('  alice: cfk1.nope\n', '{ approvers: [alice], threshold: 1 }')), /^c\.yaml:5 approvers\.alice: /);
  assert.match(
    configError(text('  alice: ./missing.pub\n', '{ approvers: [alice], threshold: 1 }')),
    /^c\.yaml:5 approvers\.alice: cannot read \.\/missing\.pub \(ENOENT\)/,
  );
  assert.match(
    configError(text(`  "9x": ${formatPublicKey(alice.publicKey)}\n${known}`, '{ approvers: [alice], threshold: 1 }')),
    /approvers\.9x: .*an approver name must match/,
  );
  // The gate's own rules still apply after names are resolved (a key twice, a threshold too high).
  assert.match(
    configError(text(known, `{ approvers: [alice, ${formatPublicKey(alice.publicKey)}], threshold: 1 }`, '{ approvers: [alice], threshold: 1 }')),
    /lists a key twice/,
  );
  assert.match(
    configError(text(known, '{ approvers: [alice], threshold: 2 }', '{ approvers: [alice], threshold: 1 }')),
    /threshold must be an integer from 1 to the number of approvers/,
  );
  // A config without the section: keys still work, names do not.
  const plain = parseConfig(`trust:\n  authorities:\n    - ${formatPublicKey(authority.publicKey)}\n`, { env: {} });
  assert.equal(plain.approvers, undefined);
});
