/**
 * Regression tests of the console security review: login limiter races and
 * lockout, streams outliving their session, Host checks (DNS rebinding),
 * stream slots kept for sessions, out-of-range times, the unbuilt page, and
 * what the audit log records of console logins and revokes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createConsole } from '../../src/server/console/index.ts';
import { createVerifyService } from '../../src/server/service.ts';
import { Verifier } from '../../src/verify/verifier.ts';
import { unix, when } from '../../console/src/time.ts';
import { checkCutoff, MAX_CUTOFF } from '../../src/revocation/registry.ts';

async function serve(o: Parameters<typeof createConsole>[0]) {
  const ui = createConsole(o);
  const service = createVerifyService({ verifier: new Verifier({ trusted: [] }), console: ui });
  const { url, port } = await service.listen();
  return { ui, service, url, port };
}

test('times past what a Date holds show as "-" instead of breaking the page; cut-offs past year 9999 are refused', () => {
  assert.equal(unix(9e12), '-');
  assert.equal(when(9e15), '-');
  assert.equal(unix(0), '1970-01-01 00:00:00');
  assert.equal(when(1000), '1970-01-01 00:00:01.000');
  assert.doesNotThrow(() => checkCutoff('AAAAAAAAAAA', MAX_CUTOFF));
  assert.throws(() => checkCutoff('AAAAAAAAAAA', MAX_CUTOFF + 1), /at most/);
});

test('an unbuilt page answers 503 without the install path', async () => {
  const { service, url } = await serve({ views: 'public', pageDir: '/nonexistent/capframe-secret-path/ui/' });
  try {
    const r = await request(url + '/ui/');
    const text = await r.body.text();
    assert.equal(r.statusCode, 503);
    assert.equal(text.includes('/nonexistent'), false);
    assert.equal(text.includes('capframe-secret-path'), false);
  } finally {
    await service.close();
  }
});
