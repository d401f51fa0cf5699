/** Shared fixtures of the revocation tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegate, generateKey, issueToken, Verifier, type PrivateKey, type Token, type Decision } from '../../src/index.ts';

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-rev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Fixture {
  authority: PrivateKey;
  agent: PrivateKey;
  sub: PrivateKey;
  leaf: PrivateKey;
  root: Token;
  child: Token;
  grandchild: Token;
}

/** A 3-block chain: root (agent:support) -> agent:summarizer -> agent:leaf. */
export function chainFixture(authority: PrivateKey = generateKey()): Fixture {
  const agent = generateKey();
  const sub = generateKey();
  const leaf = generateKey();
  const root = issueToken({
    key: authority,
    subject: 'agent:support',
    holder: agent.publicKey,
    grants: [{ resource: 'tickets://acme/*', permissions: ['read', 'write'] }],
    ttl: '1h',
    maxDepth: 2,
  });
  const child = delegate(root, { key: agent, to: sub.publicKey, subject: 'agent:summarizer', permissions: ['read'], ttl: '30m' });
  const grandchild = delegate(child, { key: sub, to: leaf.publicKey, subject: 'agent:leaf', ttl: '10m' });
  return { authority, agent, sub, leaf, root, child, grandchild };
}

let n = 0;
export function read(v: Verifier, token: Token): Promise<Decision> {
  return v.authorize(token, { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: 42 }, callId: `c${++n}` });
}
