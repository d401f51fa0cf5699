/** The MCP client with a TokenRenewer: calls keep working across renewals, then fail closed when the authority is gone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, serializePrivateKey, Verifier } from '../../src/index.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { AuthorityClient, TokenRenewer } from '../../src/remote/index.ts';
import { withCapframe, denialOf } from '../../src/mcp/index.ts';
import { CapframeError } from '../../src/errors.ts';
import { agentKey, authority, connectInMemory, ticketsServer } from '../mcp/fixtures.ts';

const SECRET = 'authority-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:mcp';

test(
  'withCapframe + TokenRenewer: every call signed with a fresh token across renewals; fail closed after expiry with the authority down',
  { timeout: 90_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capframe-authority-mcp-'));
    writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
    writeFileSync(
      join(dir, 'capframe.yaml'),
      `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
server:
  port: 0
  authority:
    audience: ${AUDIENCE}
    keyFile: ./authority.key
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 3s
        grants:
          - resource: "tickets://acme/*"
            permissions: [read]
`,
    );
    const running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: SECRET }));
    const client = new AuthorityClient({ url: running.url, audience: AUDIENCE });
    const renewer = new TokenRenewer({ client, holderKey: agentKey, profile: 'support' });
    // No clock skew on the server: an expired token would be denied at once.
    const { server, effects } = ticketsServer({ verifier: new Verifier({ trusted: [authority.publicKey], clockSkew: 0 }) });
    const mcp = withCapframe(await connectInMemory(server), { token: renewer, holderKey: agentKey });
    try {
      await client.enrol({ holderKey: agentKey, profile: 'support', subject: 'agent:support:mcp', adminSecret: SECRET });
      await renewer.start();
      const tokens = new Set<string>();
      let i = 0;
      while (renewer.renewals < 4) {
        const r = await mcp.callTool({ name: 'read_ticket', arguments: { id: `T-${i++}` } });
        assert.equal(denialOf(r), undefined, `call ${i} allowed`);
        assert.notEqual(r.isError, true);
        tokens.add(String(renewer.held!.token));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(tokens.size >= 3, 'calls were signed with successive tokens');
      assert.equal(effects.length, i);

      await running.close();
      const exp = renewer.held!.expiresAt;
      while (Math.floor(Date.now() / 1000) < exp) await new Promise((r) => setTimeout(r, 100));
      const before = effects.length;
      await assert.rejects(
        mcp.callTool({ name: 'read_ticket', arguments: { id: 'late' } }),
        (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE',
      );
      assert.equal(effects.length, before, 'nothing ran');
    } finally {
      await renewer.close();
      await client.close();
      await running.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
