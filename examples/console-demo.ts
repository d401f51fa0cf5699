/**
 * `npm run demo:console`: the web console with something to show, offline.
 *
 * Starts `capframe serve` (in this process) with revocation, an authority,
 * a signed audit log and the console, then keeps three agents calling it:
 * a planner (root token), its researcher (a delegated child) and an agent
 * that keeps trying what it was not granted. Prints the console URL and
 * the demo's admin secret. Ctrl-C stops it; `--seconds N` stops after N s.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegate, formatPublicKey, generateKey, issueToken, serializePrivateKey } from '../src/index.ts';
import { loadServerConfig } from '../src/config/server.ts';
import { startService } from '../src/server/index.ts';

let calls = 0;
const callId = () => `demo-${Date.now()}-${++calls}`;
import { AuthorityClient, RemoteVerifier } from '../src/remote/index.ts';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 0;
const port = Number(process.env.PORT ?? 8787);
const dir = mkdtempSync(join(tmpdir(), 'capframe-console-demo-'));
const secret = randomBytes(18).toString('base64url');
const authority = generateKey();
writeFileSync(join(dir, 'authority.key'), serializePrivateKey(authority), { mode: 0o600 });
writeFileSync(join(dir, 'service.key'), serializePrivateKey(generateKey()), { mode: 0o600 });
writeFileSync(
  join(dir, 'capframe.yaml'),
  `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
replay:
  store: sqlite
  path: ./replay.db
server:
  port: ${port}
  audit:
    path: ./audit.jsonl
    checkpoint: { keyFile: ./service.key, everyLines: 50, everySeconds: 10 }
  revocation: { db: ./authority.db, keyFile: ./authority.key, maxAge: 5m }
  authority:
    audience: capframe-authority:demo
    keyFile: ./authority.key
    db: ./enrolments.db
    profiles:
      support:
        subject: "agent:support:*"
        ttl: 10m
        grants:
          - { resource: "tickets://acme/*", permissions: [read, update] }
  console:
    views: login
`,
);

let running: Awaited<ReturnType<typeof startService>>;
try {
  running = await startService(loadServerConfig(join(dir, 'capframe.yaml'), { CAPFRAME_ADMIN_SECRET: secret }));
} catch (e) {
  console.error(`cannot start the demo service: ${(e as Error).message} (set PORT=... to use another port)`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}
const grants = [
  { resource: 'tickets://acme/*', permissions: ['read', 'update'] },
  { resource: 'kb://acme/*', permissions: ['read'] },
];
const plannerKey = generateKey();
const researcherKey = generateKey();
const rogueKey = generateKey();
const planner = issueToken({ key: authority, subject: 'agent:planner', holder: plannerKey.publicKey, grants, ttl: '2h', maxDepth: 2 });
const researcher = delegate(planner, {
  key: plannerKey,
  to: researcherKey.publicKey,
  subject: 'agent:planner:researcher',
  ttl: '1h',
  grants: [{ resource: 'kb://acme/*', permissions: ['read'] }],
});
const rogue = issueToken({
  key: authority,
  subject: 'agent:intern',
  holder: rogueKey.publicKey,
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
  ttl: '2h',
});

const remotes = [plannerKey, researcherKey, rogueKey].map((holderKey) => new RemoteVerifier({ url: running.url, holderKey }));
const [asPlanner, asResearcher, asRogue] = remotes as [RemoteVerifier, RemoteVerifier, RemoteVerifier];
// One agent enrolled with the authority, so the Agents page has a row.
const authorityClient = new AuthorityClient({ url: running.url, audience: 'capframe-authority:demo' });
const supportKey = generateKey();
await authorityClient.enrol({ holderKey: supportKey, profile: 'support', subject: 'agent:support:1', adminSecret: secret });
const support = await authorityClient.obtain({ holderKey: supportKey, profile: 'support' });
const asSupport = new RemoteVerifier({ url: running.url, holderKey: supportKey });

const script = [
  () => asPlanner.verifyCall(planner, { tool: 'get_ticket', operation: 'read', resource: 'tickets://acme/42', args: { id: 42 }, callId: callId() }),
  () => asResearcher.verifyCall(researcher, { tool: 'search_kb', operation: 'read', resource: 'kb://acme/refunds', args: { q: 'refunds' }, callId: callId() }),
  () => asRogue.verifyCall(rogue, { tool: 'delete_ticket', operation: 'delete', resource: 'tickets://acme/42', args: { id: 42 }, callId: callId() }),
  () => asSupport.verifyCall(support.token, { tool: 'update_ticket', operation: 'update', resource: 'tickets://acme/7', args: { id: 7 }, callId: callId() }),
  () => asResearcher.verifyCall(researcher, { tool: 'update_ticket', operation: 'update', resource: 'tickets://acme/42', args: { id: 42 }, callId: callId() }),
  () => asRogue.verifyCall(rogue, { tool: 'send_email', operation: 'create', resource: 'mail://outside/list', args: { to: 'x' }, callId: callId() }),
];

console.log('capframe console demo\n');
console.log(`  console:      ${running.url}/ui/`);
console.log(`  admin secret: ${secret}   (this demo only; a new one each run)`);
console.log(`  data:         ${dir}\n`);
console.log('Four agents call the service twice a second, some calls allowed, some denied.');
console.log('Try: log in, watch Live decisions, open Delegation trees and revoke agent:planner:researcher.');
console.log(seconds > 0 ? `Stopping after ${seconds} s.` : 'Ctrl-C stops the demo.');

let n = 0;
let stopping = false;
const tick = setInterval(() => {
  const step = script[n++ % script.length]!;
  step().then(
    (d) => {
      if (n <= script.length) console.log(`  ${d.allowed ? 'ALLOWED' : `DENIED  ${d.code}`}  ${d.subject ?? ''} ${d.tool ?? ''}`);
    },
    () => {},
  );
}, 1000 / 2);

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  await Promise.all([...remotes, asSupport].map((r) => r.close()));
  await authorityClient.close();
  await running.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (seconds > 0) setTimeout(() => void stop(), seconds * 1000);
