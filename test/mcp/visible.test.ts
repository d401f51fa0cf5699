/** Which tools tools/list shows a token (hideUnusableTools): an over-approximation that never hides a usable tool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { delegate, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { definePolicy } from '../../src/config/index.ts';
import { mayUse } from '../../src/mcp/visible.ts';
import { agentKey, agentToken, authority } from './fixtures.ts';

const verifier = new Verifier({ trusted: [authority.publicKey] });
const p = (resource: string, operation = 'read') => definePolicy('t', { resource, operation });

test('patterns against templates: *, ** and literal segments, scheme, operation', () => {
  const chain = (resource: string, permissions = ['read']) => verifier.verifyToken(agentToken({ grants: [{ resource, permissions }] }));
  assert.equal(mayUse(chain('tickets://acme/*'), p('tickets://acme/{id}')), true);
  assert.equal(mayUse(chain('tickets://acme/*'), p('tickets://{org}/{id}')), true);
  assert.equal(mayUse(chain('tickets://acme/*'), p('tickets://globex/{id}')), false);
  assert.equal(mayUse(chain('tickets://acme/*'), p('tickets://acme/{id}/notes')), false);
  assert.equal(mayUse(chain('tickets://acme/**'), p('tickets://acme/{id}/notes')), true);
  assert.equal(mayUse(chain('tickets://acme/7'), p('tickets://acme/{id}')), true);
  assert.equal(mayUse(chain('tickets://acme/*'), p('mail://acme/{id}')), false);
  assert.equal(mayUse(chain('tickets://acme/*'), p('tickets://acme/{id}', 'write')), false);
  assert.equal(mayUse(chain('tickets://acme/*', ['read', 'write']), p('tickets://acme/{id}', 'write')), true);
});

test('every block of a delegated chain must allow it', () => {
  const root = issueToken({
    key: authority,
    subject: 'agent:support',
    holder: agentKey.publicKey,
    ttl: '1h',
    maxDepth: 1,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read', 'write'] }],
  });
  const child = delegate(root, { key: agentKey, to: generateKey().publicKey, subject: 'agent:reader', permissions: ['read'] });
  const c = verifier.verifyToken(child);
  assert.equal(mayUse(c, p('tickets://acme/{id}')), true);
  assert.equal(mayUse(c, p('tickets://acme/{id}', 'write')), false);
});
