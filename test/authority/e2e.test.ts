/**
 * The authority end to end (issue 14): 100 agents enrol (profiles from YAML;
 * most with the admin secret, some with `capframe enroll` codes), each keeps
 * its token renewed through a TokenRenewer over a run several times longer
 * than the token lifetime, and calls a guarded tool all along. While the
 * authority is up: no call is denied for an expired token. One agent is
 * disenrolled mid-run: its next call is denied (revoked) and its renewal is
 * refused. Then the authority goes down: calls keep working until the tokens
 * expire, then fail closed with ERR_UNAVAILABLE.
 *
 * Times are real (timers drive renewal) but every check waits on a state, not
 * on a duration, with generous deadlines: a loaded machine only slows it down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage, createAgent, fakeModel, tool } from 'langchain';
import { z } from 'zod';
import { formatPublicKey, generateKey, serializePrivateKey, Verifier, type PrivateKey } from '../../src/index.ts';
import { kidToString } from '../../src/crypto/keys.ts';
import { loadServerConfig } from '../../src/config/server.ts';
import { startService } from '../../src/server/index.ts';
import { AuthorityClient, RevocationSync, TokenRenewer } from '../../src/remote/index.ts';
import { RevocationState } from '../../src/revocation/state.ts';
import { Guard, guardTools } from '../../src/langchain/index.ts';
import { verifyAuditLog } from '../../src/audit/index.ts';
import { run as enroll } from '../../src/cli/commands/enroll.ts';

const SECRET = 'authority-admin-secret-0123456789';
const AUDIENCE = 'capframe-authority:e2e';
const TTL = 4;
const AGENTS = 100;
const BY_CODE = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

test('100 agents enrol, renew without a gap, one is disenrolled mid-run, and calls fail closed once the authority is down', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-authority-e2e-'));
  const authority = generateKey();
  writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
  const configFile = join(dir, 'capframe.yaml');
  writeFileSync(
    configFile,
    `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
server:
  port: 0
  audit:
    path: ./audit.jsonl
  revocation:
    db: ./revocations.db
    keyFile: ./authority.key
    maxAge: 5m
  authority:
    audience: ${AUDIENCE}
    keyFile: ./authority.key
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: ${TTL}s
        grants:
          - resource: "tickets://acme/*"
            permissions: [read]
      billing:
        subject: "agent:billing:*"
        ttl: ${TTL}s
        maxDepth: 1
        grants:
          - resource: "invoices://acme/*"
            permissions: [read]
            constraints:
              amount: { type: range, max: 1000 }
`,
  );
  const env = { CAPFRAME_ADMIN_SECRET: SECRET };
  const running = await startService(loadServerConfig(configFile, env));
  const client = new AuthorityClient({ url: running.url, audience: AUDIENCE, connections: 16, timeoutMs: 10_000 });

  // The agents' side: a local verifier (no clock skew: an expired token is denied at once),
  // its revocation list kept fresh from the authority.
  const state = new RevocationState({ trusted: [authority.publicKey], maxAge: 300 });
  const sync = new RevocationSync({ url: running.url, state, pollInterval: 1, onError: () => {} });
  await sync.start();
  const verifier = new Verifier({ trusted: [authority.publicKey], clockSkew: 0, revocation: state });
  const guard = new Guard({
    verifier,
    sink: null,
    policies: {
      get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' },
      get_invoice: { resource: 'invoices://acme/{id}', operation: 'read' },
    },
  });

  type Agent = { subject: string; profile: string; key: PrivateKey; renewer: TokenRenewer };
  const agents: Agent[] = [];
  const renewers: TokenRenewer[] = [];
  try {
    // Enrolment: the first BY_CODE agents with one-time codes printed by `capframe enroll`.
    const io = (out: string[]) => ({ stdout: (t: string) => out.push(t), stderr: () => {}, env, cwd: dir });
    for (let i = 0; i < AGENTS; i++) {
      const profile = i % 2 === 0 ? 'support' : 'billing';
      const subject = `agent:${profile}:${i}`;
      const key = generateKey();
      if (i < BY_CODE) {
        const out: string[] = [];
        assert.equal(await enroll(['--config', configFile, '--profile', profile, '--subject', subject], io(out)), 0);
        const code = out.join('').trim();
        assert.match(code, /^cfe1\.[A-Za-z0-9_-]{43}$/);
        assert.equal((await client.enrol({ holderKey: key, profile, subject, code })).changed, true);
        // Single use: the same code again is refused, even for another key.
        await assert.rejects(client.enrol({ holderKey: generateKey(), profile, subject: `${subject}-again`, code }), { code: 'ERR_UNAUTHORIZED' });
        // Never stored in clear.
        assert.equal(readFileSync(join(dir, 'enrolments.db')).includes(Buffer.from(code)), false);
      } else {
        assert.equal((await client.enrol({ holderKey: key, profile, subject, adminSecret: SECRET })).changed, true);
      }
      const renewer = new TokenRenewer({ client, holderKey: key, profile, margin: 2, waitMs: 10_000 });
      renewers.push(renewer);
      agents.push({ subject, profile, key, renewer });
    }
    // Without a credential, or with a wrong one, nobody enrols.
    await assert.rejects(client.enrol({ holderKey: generateKey(), profile: 'support', subject: 'agent:support:x' }), { code: 'ERR_UNAUTHORIZED' });
    await assert.rejects(client.enrol({ holderKey: generateKey(), profile: 'support', subject: 'agent:support:y', adminSecret: 'wrong-secret-0123456789' }), {
      code: 'ERR_UNAUTHORIZED',
    });
    // A subject outside the profile's pattern is refused.
    await assert.rejects(client.enrol({ holderKey: generateKey(), profile: 'support', subject: 'agent:billing:z', adminSecret: SECRET }), {
      code: 'ERR_INVALID_ARGUMENT',
    });
    await Promise.all(renewers.map((r) => r.start()));

    const counts = new Map<string, number>();
    const count = (code: string) => counts.set(code, (counts.get(code) ?? 0) + 1);
    let n = 0;
    const call = async (a: Agent) => {
      const tool = a.profile === 'support' ? 'get_ticket' : 'get_invoice';
      const args = a.profile === 'support' ? { id: `T-${n++}` } : { id: `I-${n++}`, amount: 10 };
      const r = await guard.check(tool, args, undefined, { configurable: { capframe: { token: a.renewer, holderKey: a.key } } });
      return r.allowed ? 'OK' : r.code;
    };
    const round = async (skip?: Agent) => {
      const codes = await Promise.all(agents.filter((a) => a !== skip).map(call));
      codes.forEach(count);
      return codes;
    };

    // Up: rounds of calls until every agent has renewed at least twice (the run outlives TTL several times).
    const victim = agents[7]!;
    let disenrolled = false;
    const startedAt = Date.now();
    while (agents.some((a) => a.renewer.renewals < 3) || Date.now() - startedAt < 2.5 * TTL * 1000) {
      const codes = await round(disenrolled ? victim : undefined);
      assert.deepEqual(
        codes.filter((c) => c !== 'OK'),
        [],
        'every call is allowed while the authority is up',
      );
      if (!disenrolled && Date.now() - startedAt > TTL * 1000) {
        // Mid-run: disenrol one agent. Its tokens are revoked (by subject) and renewal is refused.
        const d = await client.disenrol(victim.subject, SECRET);
        assert.deepEqual(d, { changed: true, revoked: true });
        const kid = kidToString(authority.kid);
        await until('the revocation reaches the agents', () => state.versionOf(kid) >= running.revocation!.state.versionOf(kid));
        assert.equal(await call(victim), 'ERR_REVOKED');
        await assert.rejects(client.obtain({ holderKey: victim.key, profile: victim.profile }), { code: 'ERR_REVOKED' });
        disenrolled = true;
      }
      await sleep(200);
    }
    assert.equal(disenrolled, true);
    assert.equal(counts.get('ERR_EXPIRED') ?? 0, 0, 'no expired-token denial while the authority is up');
    for (const a of agents) if (a !== victim) assert.ok(a.renewer.renewals >= 3, `${a.subject} renewed ${a.renewer.renewals} times`);
    // The disenrolled agent stays denied; once its token has run out, its renewer says why.
    assert.equal(await call(victim), 'ERR_REVOKED');

    // A real LangChain agent loop with a renewing token source.
    const ran: string[] = [];
    const getTicket = tool(
      async ({ id }) => {
        ran.push(id);
        return `ticket ${id}`;
      },
      { name: 'get_ticket', description: 'read a ticket', schema: z.object({ id: z.string() }) },
    );
    const model = fakeModel()
      .respondWithTools([{ name: 'get_ticket', args: { id: 'T-agent' } }])
      .respond(new AIMessage('done'));
    const lc = createAgent({ model, tools: guardTools([getTicket], guard) });
    const support = agents[0]!;
    await lc.invoke({ messages: [{ role: 'user', content: 'read T-agent' }] }, {
      configurable: { capframe: { token: support.renewer, holderKey: support.key } },
    } as never);
    assert.deepEqual(ran, ['T-agent']);

    // Down: calls work while the tokens last, then fail closed with ERR_UNAVAILABLE.
    await running.close();
    const lastExpiry = Math.max(...agents.map((a) => a.renewer.held!.expiresAt));
    const downCodes: string[] = [];
    while (Math.floor(Date.now() / 1000) <= lastExpiry) {
      downCodes.push(...(await round(victim)));
      await sleep(200);
    }
    assert.equal(downCodes.filter((c) => c === 'ERR_EXPIRED').length, 0, 'an expired token never reaches the verifier');
    assert.deepEqual(
      [...new Set(downCodes)].filter((c) => c !== 'OK' && c !== 'ERR_UNAVAILABLE'),
      [],
    );
    const after = await round(victim);
    assert.deepEqual([...new Set(after)], ['ERR_UNAVAILABLE']);
    const r = await guard.check('get_ticket', { id: 'x' }, undefined, { configurable: { capframe: { token: support.renewer, holderKey: support.key } } });
    assert.equal(r.allowed, false);
    assert.match(!r.allowed ? r.reason : '', /expired at .* could not be renewed/);

    // Issuance and enrolment changes are audit lines of the hash chain.
    const report = verifyAuditLog(join(dir, 'audit.jsonl'));
    assert.equal(report.ok, true);
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const ops = (op: string) => lines.filter((l) => l.operation === op && l.source === 'authority');
    const allowed = (op: string) => ops(op).filter((l) => l.decision === 'allow');
    assert.equal(allowed('enrol').length, AGENTS);
    // Refused signed enrolments are lines too (a used code, a subject outside the pattern).
    assert.equal(ops('enrol').filter((l) => l.decision === 'deny').length, BY_CODE + 1);
    assert.equal(ops('disenrol').length, 1);
    assert.ok(allowed('issue').length >= AGENTS * 3);
    assert.ok(ops('issue').some((l) => l.decision === 'deny' && l.code === 'ERR_REVOKED' && l.subject === victim.subject));
    assert.equal(
      lines.some((l) => JSON.stringify(l).includes('cft1.')),
      false,
      'no token in the audit log',
    );
  } finally {
    await Promise.all(renewers.map((r) => r.close()));
    sync.stop();
    await client.close();
    await running.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
