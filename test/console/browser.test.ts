/**
 * The console in a real browser (chromium via playwright-core, test/console/browser-helper.ts)
 * against a real `capframe serve`: login, live decisions, trees, revoke, inspector, CSP and
 * escaping, logout. Every test saves a screenshot under test-output/console/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, type BrowserSession } from './browser-helper.ts';
import { SECRET, startConsoleFixture, type ConsoleFixture } from './fixture.ts';

let fx: ConsoleFixture;
let b: BrowserSession;

before(async () => {
  fx = await startConsoleFixture();
  b = await launchBrowser();
});

after(async () => {
  await b?.close();
  await fx?.close();
});

/** A full load of the page (a new query string: never a same-document hash change). */
let loads = 0;
function open(hash = '') {
  return b.page.goto(`${fx.url}/ui/?load=${++loads}${hash}`);
}

const cookies = () => b.context.cookies(`${fx.url}/ui/`);

async function login(secret: string): Promise<void> {
  await open();
  await b.page.fill('#login-secret', secret);
  await b.page.click('#login-submit');
}

test('a wrong admin secret is refused: the login form stays, with the refusal', async () => {
  await login('not-the-admin-secret-at-all');
  await b.page.waitForSelector('#login-error');
  assert.match(String(await b.page.textContent('#login-error')), /wrong admin secret/);
  assert.equal(await b.page.locator('nav').count(), 0);
  assert.equal(
    (await cookies()).some((c) => c.name === 'capframe_console'),
    false,
  );
  await b.shot('login-refused');
});

test('log in: the session cookie is HttpOnly, SameSite=Strict, Path=/ui, and the pages open', async () => {
  await login(SECRET);
  await b.page.waitForSelector('nav #nav-live');
  const cookie = (await cookies()).find((c) => c.name === 'capframe_console');
  assert.ok(cookie);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/ui');
  // HttpOnly: the page's own script cannot read it.
  assert.equal(await b.page.evaluate('document.cookie'), '');
  await b.shot('logged-in');
});

test('the CSP header is on the page, and a <script> in a subject renders as text without running', async () => {
  const res = await open(`#/live`);
  const h = res!.headers();
  assert.match(h['content-security-policy']!, /default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/);
  assert.match(h['content-security-policy']!, /frame-ancestors 'none'/);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  await b.page.waitForSelector('#live-status.ok');
  const hostile = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
  const agent = fx.root(hostile);
  assert.equal((await agent.call()).allowed, true);
  const cell = b.page.locator('#decisions td.subject', { hasText: '<script>' });
  await cell.first().waitFor({ timeout: 2000 });
  assert.equal(await cell.first().textContent(), hostile);
  assert.equal(await b.page.locator('#decisions script, #decisions img').count(), 0);
  assert.equal(await b.page.evaluate('window.__pwned'), undefined);
  await b.shot('escaped-subject');
});

test('a denied call appears in the live view within 1 s, with its code', async () => {
  await open(`#/live`);
  await b.page.waitForSelector('#live-status.ok');
  const agent = fx.root('agent:denied-demo');
  const t0 = Date.now();
  const d = await agent.call('billing://acme/1');
  assert.equal(d.code, 'ERR_SCOPE_RESOURCE');
  await b.page.locator('#decisions tr.deny', { hasText: 'agent:denied-demo' }).first().waitFor({ timeout: 1000 });
  const ms = Date.now() - t0;
  const row = b.page.locator('#decisions tr.deny', { hasText: 'agent:denied-demo' }).first();
  assert.equal(await row.locator('td.code').textContent(), 'ERR_SCOPE_RESOURCE');
  console.log(`# denial shown ${ms} ms after the call was made`);
  assert.ok(ms < 1000, `shown after ${ms} ms`);
  // The filter narrows the table to the code typed.
  await b.page.fill('#filter-code', 'ERR_SCOPE');
  assert.equal(await b.page.locator('#decisions tr.allow').count(), 0);
  await b.page.fill('#filter-code', '');
  await b.shot('live-decisions');
});

test('a token and its delegated child show as a two-node tree; revoking the child from the page denies its next call', async () => {
  const root = fx.root('agent:planner');
  const child = fx.child(root, 'agent:planner:researcher');
  assert.equal((await root.call()).allowed, true);
  assert.equal((await child.call()).allowed, true);
  await open(`#/trees`);
  const rootNode = b.page.locator('#trees > li.node', { has: b.page.locator(':scope > .card .subject', { hasText: /^agent:planner$/ }) });
  await rootNode.waitFor({ timeout: 3000 });
  const childNode = rootNode.locator(':scope > ul.tree > li.node');
  assert.equal(await childNode.count(), 1);
  assert.equal(await childNode.locator('.card .subject').textContent(), 'agent:planner:researcher');
  assert.match(String(await rootNode.locator(':scope > .card').textContent()), /tickets:\/\/acme\/\* \[read\]/);
  await b.shot('delegation-tree');

  const childId = (await childNode.getAttribute('data-id'))!;
  await childNode.locator('button.revoke-node').click();
  await childNode.locator('.badge.bad', { hasText: 'revoked' }).waitFor({ timeout: 3000 });
  assert.deepEqual(await child.call(), { allowed: false, code: 'ERR_REVOKED' });
  // The parent is untouched.
  assert.equal((await root.call()).allowed, true);
  await b.shot('revoked-child');

  await open(`#/revocations`);
  await b.page.locator('#revoked-ids td', { hasText: childId }).first().waitFor({ timeout: 3000 });
  // Revoke a subject through the form.
  await b.page.selectOption('#revoke-kind', 'subject');
  await b.page.fill('#revoke-value', 'agent:planner');
  await b.page.click('#revoke-form button[type=submit]');
  await b.page.waitForSelector('#revoke-note');
  assert.match(String(await b.page.textContent('#revoke-note')), /revoked: agent:planner/);
  assert.deepEqual(await root.call(), { allowed: false, code: 'ERR_REVOKED' });
  await b.shot('revocations');
});

test('token inspector: decoded blocks and grants, the token itself never shown back', async () => {
  const root = fx.root('agent:inspected');
  const child = fx.child(root, 'agent:inspected:child');
  await open(`#/inspector`);
  await b.page.fill('#inspect-token', child.token);
  await b.page.click('#inspect-form button[type=submit]');
  await b.page.waitForSelector('#inspect-result');
  const text = String(await b.page.textContent('#page-inspector'));
  assert.match(text, /agent:inspected:child/);
  assert.match(text, /tickets:\/\/acme\/\* \[read\]/);
  assert.equal(await b.page.locator('ol.blocks > li').count(), 2);
  assert.equal(text.includes(child.token.slice(5, 40)), false);
  assert.equal(await b.page.inputValue('#inspect-token'), '');
  await b.shot('token-inspector');
});

test('agents and the audit checkpoint pages', async () => {
  await fx.enrol('agent:support:7');
  await open(`#/agents`);
  await b.page.locator('#agents td.subject', { hasText: 'agent:support:7' }).waitFor({ timeout: 3000 });
  await b.shot('agents');
  // everySeconds: 1 in the fixture: a checkpoint is signed within about a second.
  let verified = '';
  for (let i = 0; i < 40 && verified !== 'verified'; i++) {
    await open(`#/checkpoint`);
    await b.page.waitForSelector('#checkpoint');
    verified = (await b.page.locator('#checkpoint-verified').count()) > 0 ? ((await b.page.textContent('#checkpoint-verified')) ?? '').split(' ')[0]! : '';
    if (verified !== 'verified') await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(verified, 'verified');
  await b.shot('audit-checkpoint');
});

test('log out: the login form is back and the old cookie no longer reads anything', async () => {
  const old = (await cookies()).find((c) => c.name === 'capframe_console')!;
  await open(`#/live`);
  await b.page.click('#logout');
  await b.page.waitForSelector('#login-form');
  const r = await fetch(`${fx.url}/ui/api/trees`, { headers: { cookie: `capframe_console=${old.value}` } });
  assert.equal(r.status, 401);
  await b.shot('logged-out');
});
