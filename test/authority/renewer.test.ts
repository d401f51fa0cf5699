/** TokenRenewer without an authority: typed failures, no token, no hammering. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKey } from '../../src/index.ts';
import { TokenRenewer, isTokenSource } from '../../src/remote/index.ts';
import { CapframeError } from '../../src/errors.ts';

test('an unreachable or failing authority: start and current() fail closed with ERR_UNAVAILABLE, retries are spaced out', async () => {
  let hits = 0;
  // An authority that answers 503 to everything.
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"ERR_UNAVAILABLE","reason":"down for maintenance"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const renewer = new TokenRenewer({ url, audience: 'a', holderKey: generateKey(), profile: 'p', minBackoffMs: 60_000 });
  try {
    assert.equal(isTokenSource(renewer), true);
    await assert.rejects(renewer.start(), (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE' && /maintenance/.test(e.message));
    const seen = hits;
    // Calls during the backoff fail at once, without another request.
    for (let i = 0; i < 20; i++) {
      await assert.rejects(
        Promise.resolve(renewer.current()),
        (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE' && /no capframe token/.test(e.message),
      );
    }
    assert.equal(hits, seen);
    assert.equal(renewer.lastError?.code, 'ERR_UNAVAILABLE');
  } finally {
    await renewer.close();
    server.close();
  }
  await assert.rejects(Promise.resolve(renewer.current()), { code: 'ERR_UNAVAILABLE' });
  assert.throws(() => new TokenRenewer({ url, audience: 'a', holderKey: generateKey(), profile: 'p', renewAt: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
});

test('a throwing onError changes nothing: typed failure, spaced retries, and a refusal (ERR_REVOKED) stops renewing', async () => {
  for (const [status, code] of [
    [503, 'ERR_UNAVAILABLE'],
    [403, 'ERR_REVOKED'],
  ] as const) {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, reason: 'no' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const renewer = new TokenRenewer({
      url,
      audience: 'a',
      holderKey: generateKey(),
      profile: 'p',
      minBackoffMs: 60_000,
      onError: () => {
        throw new Error('a broken log hook');
      },
    });
    try {
      await assert.rejects(renewer.start(), (e: unknown) => e instanceof CapframeError && e.code === code);
      const seen = hits;
      for (let i = 0; i < 10; i++) await assert.rejects(Promise.resolve(renewer.current()), { code });
      assert.equal(hits, seen, `${status}: calls after a failure must not each ask the authority`);
    } finally {
      await renewer.close();
      server.close();
    }
  }
});
