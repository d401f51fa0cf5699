// The stream binding of session calls (docs/spec.md §13.7.1) over real sockets on 127.0.0.1: calls and answers as
// JSON lines, hostile lines, refusals and caps, a service restart with calls in flight, and the HTTP fallback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { generateKey, issueToken, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { createVerifyService, type VerifyService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { beginSession, type ClientSession } from '../../src/remote/session-client.ts';
import { decodeBase64url } from '../../src/encoding/base64url.ts';
import { postJson, sessionCall } from './fixture.ts';

const authority = generateKey();
const holder = generateKey();
const serviceKey = generateKey();
const grants = [{ resource: 'tickets://acme/*', permissions: ['read'] }];
const token = issueToken({ key: authority, subject: 'agent:stream', holder: holder.publicKey, ttl: '1h', grants });
const verifier = new Verifier({ trusted: [authority.publicKey] });
const events: Record<string, unknown>[] = [];

let service: VerifyService;
let url: string;
let port: number;

function start(p = 0): Promise<{ url: string; port: number }> {
  service = createVerifyService({
    verifier,
    audit: (e) => void events.push(e),
    sessions: { signer: keySigner(serviceKey) },
    sessionStreams: { maxLine: 4096, maxPerAddress: 3 },
  });
  return service.listen(p);
}

before(async () => {
  ({ url, port } = await start());
});
after(async () => {
  await service.close();
});

const call = sessionCall;

const post = (path: string, body: unknown) => postJson(url, path, body);

async function openSession(): Promise<ClientSession> {
  const n = await post('/v1/session/nonce', {});
  const p = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n.json.nonce), ttl: 600 });
  const o = await post('/v1/session/open', p.request);
  assert.equal(o.status, 200);
  return p.finish(decodeBase64url(o.json.reply), decodeBase64url(o.json.signature));
}

/** A raw stream: the upgrade by hand, then lines; `next()` is the next line, or null once the service closed it. */
interface Raw {
  readonly status: number;
  readonly head: string;
  readonly socket: Socket;
  next(): Promise<string | null>;
  send(line: string): void;
}

function raw(headers = 'Connection: Upgrade\r\nUpgrade: capframe-session/1\r\n', method = 'GET', path = '/v1/session/stream', p = port): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, '127.0.0.1');
    let buf = '';
    let head: string | undefined;
    const lines: string[] = [];
    const waiters: ((l: string | null) => void)[] = [];
    let closed = false;
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (d: string) => {
      buf += d;
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        resolve({
          status: Number(head.split(' ')[1]),
          head,
          socket,
          next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : closed ? Promise.resolve(null) : new Promise((r) => waiters.push(r))),
          send: (l) => socket.write(l),
        });
      }
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(l);
        else lines.push(l);
      }
    });
    socket.on('close', () => {
      closed = true;
      for (const w of waiters.splice(0)) w(null);
      if (head === undefined) reject(new Error('closed before an answer'));
    });
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`);
  });
}

test('RemoteVerifier over the stream: allow and deny with their codes, one stream, no HTTP batch; audit says mode session', async () => {
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: serviceKey.publicKey });
  try {
    assert.equal(rv.sessionTransport, 'stream');
    const ds = await Promise.all([1, 2, 3].map((i) => rv.verifyCall(token, call(i))));
    assert.deepEqual(
      ds.map((d) => [d.allowed, d.mode]),
      [
        [true, 'session'],
        [true, 'session'],
        [true, 'session'],
      ],
    );
    const out = await rv.verifyCall(token, call(4, 'mail://acme/x'));
    assert.equal(!out.allowed && out.code, 'ERR_SCOPE_RESOURCE');
    const op = await rv.verifyCall(token, { ...call(5), operation: 'delete' });
    assert.equal(!op.allowed && op.code, 'ERR_SCOPE_PERMISSION');
    assert.equal(events.at(-1)!.mode, 'session');
    assert.equal(rv.sessionStats.streams, 1);
    assert.equal(rv.sessionStats.requests, 0);
    assert.equal(rv.sessionStats.handshakes, 1);
    assert.equal(service.metrics.count('allow') >= 3, true);
    assert.match(await (await request(url + '/metrics')).body.text(), /capframe_session_streams 1/);
  } finally {
    await rv.close();
  }
});

test('hostile lines: forged tag, replayed counter, unknown session, a JSON non-call, then a garbage line closes the stream', async () => {
  const s = await openSession();
  const r = await raw();
  assert.equal(r.status, 101);
  assert.match(r.head, /upgrade: capframe-session\/1/i);
  const a = s.seal(call(10));
  r.send(JSON.stringify(a.envelope) + '\n');
  const ok = JSON.parse((await r.next())!);
  assert.equal(ok.session, s.idText);
  assert.equal(s.open(a, ok).allowed, true);
  // The same envelope again: its counter was used.
  r.send(JSON.stringify(a.envelope) + '\n');
  const again = JSON.parse((await r.next())!);
  const d1 = s.open(a, again);
  assert.equal(!d1.allowed && d1.code, 'ERR_REPLAY');
  // A forged tag: untagged ERR_SESSION_TAG.
  const b = s.seal(call(11));
  const forged = { ...b.envelope, tag: b.envelope.tag.slice(0, -2) + (b.envelope.tag.endsWith('AA') ? 'AB' : 'AA') };
  r.send(JSON.stringify(forged) + '\n');
  const f = JSON.parse((await r.next())!);
  assert.equal(f.tag, undefined);
  assert.equal(JSON.parse(f.decision).code, 'ERR_SESSION_TAG');
  assert.equal(s.open(b, f).allowed, false);
  // Unknown session, and a JSON line that is not a call (answered with its counter; the stream goes on).
  r.send(JSON.stringify({ ...b.envelope, session: 'A'.repeat(22) }) + '\n' + JSON.stringify({ counter: 7 }) + '\n');
  const answers = [JSON.parse((await r.next())!), JSON.parse((await r.next())!)].sort((x, y) => x.counter - y.counter);
  const unknown = answers.find((x) => x.session === 'A'.repeat(22))!;
  assert.equal(JSON.parse(unknown.decision).code, 'ERR_SESSION_UNKNOWN');
  const bad = answers.find((x) => x.counter === 7)!;
  assert.equal(bad.session, undefined);
  assert.equal(JSON.parse(bad.decision).code, 'ERR_MALFORMED');
  // The real call still goes through after all that, in the same stream.
  r.send(JSON.stringify(b.envelope) + '\n');
  assert.equal(s.open(b, JSON.parse((await r.next())!)).allowed, true);
  // Not JSON: the stream is closed, with no answer.
  r.send('this is not json\n');
  assert.equal(await r.next(), null);
  // The service is fine.
  assert.equal((await request(url + '/healthz')).statusCode, 200);
});

test('an over-long line closes the stream (with or without its newline)', async () => {
  const s = await openSession();
  const r1 = await raw();
  const c = s.seal({ ...call(20), args: { id: 20, pad: 'x'.repeat(5000) } });
  r1.send(JSON.stringify(c.envelope) + '\n');
  assert.equal(await r1.next(), null);
  const r2 = await raw();
  r2.send('{"counter": 1, "pad": "' + 'y'.repeat(6000));
  assert.equal(await r2.next(), null);
  // A line at the limit's side is still decided.
  const r3 = await raw();
  const d = s.seal(call(21));
  r3.send(JSON.stringify(d.envelope) + '\n');
  assert.equal(s.open(d, JSON.parse((await r3.next())!)).allowed, true);
  r3.socket.destroy();
});

test('refusals: wrong method, wrong protocol, an Origin, other paths, the per-address cap (429); a service without sessions answers 404', async () => {
  assert.equal((await raw('Connection: Upgrade\r\nUpgrade: capframe-session/1\r\nContent-Length: 0\r\n', 'POST')).status, 405);
  assert.equal((await raw('Connection: Upgrade\r\nUpgrade: websocket\r\n')).status, 400);
  assert.equal((await raw('Connection: Upgrade\r\nUpgrade: capframe-session/1\r\nOrigin: https://evil.example\r\n')).status, 403);
  assert.equal((await raw(undefined, 'GET', '/v1/verify')).status, 404);
  const open = [await raw(), await raw(), await raw()];
  assert.deepEqual(
    open.map((r) => r.status),
    [101, 101, 101],
  );
  const over = await raw();
  assert.equal(over.status, 429);
  assert.match(over.head, /retry-after: 5/i);
  for (const r of open) r.socket.destroy();
  const plain = createVerifyService({ verifier });
  const { port: p } = await plain.listen();
  try {
    assert.equal((await raw(undefined, 'GET', '/v1/session/stream', p)).status, 404);
  } finally {
    await plain.close();
  }
});

test('backpressure: with at most 1 undecided call per stream, 50 calls in one write are all answered, in turn', async () => {
  const tight = createVerifyService({ verifier, sessions: { signer: keySigner(serviceKey) }, sessionStreams: { maxUndecided: 1 } });
  const { url: u, port: p } = await tight.listen();
  try {
    const n = (await request(u + '/v1/session/nonce', { method: 'POST', body: '{}' }).then((r) => r.body.json())) as { nonce: string };
    const pending = beginSession(token, holder, { serviceKey: serviceKey.publicKey, nonce: decodeBase64url(n.nonce), ttl: 600 });
    const o = (await request(u + '/v1/session/open', { method: 'POST', body: JSON.stringify(pending.request) }).then((r) => r.body.json())) as {
      reply: string;
      signature: string;
    };
    const s = pending.finish(decodeBase64url(o.reply), decodeBase64url(o.signature));
    const r = await raw(undefined, 'GET', '/v1/session/stream', p);
    const sealed = Array.from({ length: 50 }, (_, i) => s.seal(call(200 + i)));
    r.send(sealed.map((c) => JSON.stringify(c.envelope) + '\n').join(''));
    const byCounter = new Map(sealed.map((c) => [c.envelope.counter, c]));
    for (let i = 0; i < 50; i++) {
      const a = JSON.parse((await r.next())!);
      assert.equal(s.open(byCounter.get(a.counter)!, a).allowed, true);
      byCounter.delete(a.counter);
    }
    assert.equal(byCounter.size, 0);
    r.socket.destroy();
  } finally {
    await tight.close();
  }
});

test('a service restart with calls in flight: no call fails (resealed with new counters, new session)', async () => {
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: serviceKey.publicKey, timeout: 5_000 });
  try {
    assert.equal((await rv.verifyCall(token, call(30))).allowed, true);
    const inFlight = Array.from({ length: 40 }, (_, i) => rv.verifyCall(token, call(31 + i)));
    // The calls are written at the end of this turn; the service goes down right after and comes back on the same port.
    await new Promise((r) => setImmediate(r));
    await service.close();
    ({ url } = await start(port));
    const ds = await Promise.all(inFlight);
    assert.deepEqual(
      ds.filter((d) => !d.allowed).map((d) => !d.allowed && d.code),
      [],
    );
    assert.equal(rv.sessionStats.handshakes, 2);
    assert.ok(rv.sessionStats.streams >= 2);
    // The calls on the lost stream were sent once more, each with a new counter.
    assert.ok(rv.sessionStats.lost > 0);
    assert.equal(rv.sessionStats.resent, rv.sessionStats.lost);
    assert.equal(rv.sessionTransport, 'stream');
    // Later calls go on over the new stream.
    assert.equal((await rv.verifyCall(token, call(80))).allowed, true);
  } finally {
    await rv.close();
  }
});

test('an upgrade refused (no 101, e.g. a proxy that does not pass it): the client uses the HTTP binding, and remembers', async () => {
  // A proxy that forwards plain requests only: node hands it the upgrade request as an ordinary GET.
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void request(url + req.url, {
        method: req.method as 'GET' | 'POST',
        headers: { 'content-type': 'application/json' },
        ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
      }).then(
        async (r) => {
          res.writeHead(r.statusCode, { 'content-type': 'application/json' });
          res.end(Buffer.from(await r.body.arrayBuffer()));
        },
        () => res.destroy(),
      );
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const rv = new RemoteVerifier({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, holderKey: holder, serviceKey: serviceKey.publicKey });
  try {
    const ds = await Promise.all([40, 41, 42].map((i) => rv.verifyCall(token, call(i))));
    assert.deepEqual(
      ds.map((d) => d.allowed),
      [true, true, true],
    );
    assert.equal(rv.sessionTransport, 'http');
    assert.equal(rv.sessionStats.streams, 0);
    const requests = rv.sessionStats.requests;
    assert.ok(requests >= 1);
    const d = await rv.verifyCall(token, call(43, 'mail://acme/x'));
    assert.equal(!d.allowed && d.code, 'ERR_SCOPE_RESOURCE');
    assert.equal(rv.sessionStats.requests, requests + 1);
  } finally {
    await rv.close();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
});

test("sessionTransport 'http' uses the batch binding only", async () => {
  const rv = new RemoteVerifier({ url, holderKey: holder, serviceKey: serviceKey.publicKey, sessionTransport: 'http' });
  try {
    assert.equal((await rv.verifyCall(token, call(90))).allowed, true);
    assert.equal(rv.sessionTransport, 'http');
    assert.equal(rv.sessionStats.streams, 0);
    assert.equal(rv.sessionStats.requests, 1);
  } finally {
    await rv.close();
  }
  assert.throws(() => new RemoteVerifier({ url, serviceKey: serviceKey.publicKey, sessionTransport: 'udp' as never }), /sessionTransport/);
});

test('an answer line whose characters are split across two reads arrives whole (the decision text is what was sent)', async () => {
  const decision = JSON.stringify({ allowed: false, code: 'ERR_SCOPE_RESOURCE', reason: 'ressource refusée: tickets://acme/été ✓' });
  const line = Buffer.from(JSON.stringify({ session: 'S'.repeat(22), counter: 1, decision }) + '\n', 'utf8');
  // Split inside the first multi-byte character.
  const cut = line.indexOf(Buffer.from('é', 'utf8')) + 1;
  const raw = createServer();
  const sockets: { destroy(): void }[] = [];
  raw.on('upgrade', (_req, socket) => {
    sockets.push(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: capframe-session/1\r\n\r\n');
    socket.once('data', () => {
      socket.write(line.subarray(0, cut));
      setTimeout(() => socket.write(line.subarray(cut)), 30);
    });
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const { SessionStream } = await import('../../src/remote/session-stream.ts');
  const stream = new SessionStream(`http://127.0.0.1:${(raw.address() as AddressInfo).port}`, 2000, { streams: 0, reconnects: 0, lost: 0 });
  try {
    const envelope = {
      session: 'S'.repeat(22),
      counter: 1,
      tool: 't',
      operation: 'read',
      resource: 'tickets://acme/1',
      args: {},
      callId: 'c',
      exp: 2_000_000_000,
      tag: 'A'.repeat(43),
    };
    const got = await stream.send(envelope);
    assert.equal(typeof got === 'object' && !(got instanceof Error) ? got.decision : got, decision);
  } finally {
    stream.close();
    // Upgraded sockets are no longer the HTTP server's to close.
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => raw.close(() => r()));
  }
});
