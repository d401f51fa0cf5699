import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, issueToken, Verifier } from '../src/index.ts';

test('a freshly issued token authorizes a call inside its grant', async () => {
  const auth = generateKey();
  const agent = generateKey();
  const token = issueToken({
    key: auth,
    subject: 'agent-1',
    holder: agent.publicKey,
    grants: [{ resource: 'db://users/*', permissions: ['read'] }],
    ttl: '1h',
  });
  const v = new Verifier({ trusted: [auth.publicKey] });
  const d = await v.authorize(token, { tool: 't', operation: 'read', resource: 'db://users/alice', args: {}, callId: 'c1' });
  assert.equal(d.allowed, true);
});
