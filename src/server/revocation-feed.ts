/**
 * HTTP endpoints of the authority for revocation snapshots:
 *
 *   GET /v1/revocations          the current signed snapshot (text/plain, `cfr1.…`)
 *   GET /v1/revocations/bloom    the current signed compact form (text/plain, `cfrb1.…`, §10.9)
 *   GET /v1/revocations/stream   Server-Sent Events: `event: snapshot` (the full
 *                                snapshot) on connect, then `event: delta` (cfd1.,
 *                                a few hundred bytes) on every change or
 *                                re-signature; a subscriber resuming with
 *                                Last-Event-ID gets the deltas since that version
 *                                when they are kept; `: ping` heartbeats.
 *
 * Changes are noticed from the registry's in-process `change` event and by
 * polling its version (every `watchMs`, default 100 ms), which also sees
 * revocations committed by other processes (e.g. `capframe revoke`).
 *
 * With `key` everything is signed synchronously in the request; with `signer`
 * (HSM, cloud KMS, WebCrypto key) through the publisher's async methods, the
 * answer sent once the signature is back (usually none is due: the signed data
 * is cached until the registry changes or the re-signature is due).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrivateKey } from '../crypto/keys.ts';
import type { Signer } from '../crypto/signer.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { Clock } from '../clock.ts';
import type { RegistrySource } from '../revocation/registry.ts';
import { SnapshotPublisher } from '../revocation/publisher.ts';
import type { SignedSnapshot } from '../revocation/snapshot.ts';
import type { SignedDelta } from '../revocation/delta.ts';
import type { SignedBloomForm } from '../revocation/bloom.ts';

import { BLOOM_PATH, SNAPSHOT_PATH, STREAM_PATH } from '../revocation/paths.ts';

export { BLOOM_PATH, SNAPSHOT_PATH, STREAM_PATH };
/** Bytes queued for one stream subscriber before it is disconnected. */
const MAX_BUFFERED = 32 * 1024 * 1024;
/** Default cap on stream subscribers (each holds a connection for ever). */
export const DEFAULT_MAX_SUBSCRIBERS = 256;

export interface RevocationHandlerOptions {
  registry: RegistrySource;
  /** The authority key that signs (or give `signer`). */
  key?: PrivateKey;
  /** Signs through this instead of a key in memory. */
  signer?: Signer;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** How often the registry version is polled, ms. Default 100. */
  watchMs?: number;
  /** SSE heartbeat interval, ms. Default 15000. */
  heartbeatMs?: number;
  /** Re-sign the unchanged snapshot after this many seconds. Default 60. */
  resignAfter?: number;
  errorRate?: number;
  /** Errors while building a snapshot (default: one line on stderr). */
  onError?: (e: unknown) => void;
  /** Stream subscribers at most; more get 503 (they hold connections the service needs). Default 256. */
  maxSubscribers?: number;
}

export interface RevocationHandler {
  /** Serves the two paths; returns false (without touching `res`) for any other path. */
  (req: IncomingMessage, res: ServerResponse): boolean;
  readonly publisher: SnapshotPublisher;
  /** Number of connected stream subscribers. */
  readonly subscribers: number;
  /** Checks the registry now and pushes a new snapshot if it changed. */
  poke(): void;
  /** Stops timers and ends every open stream. */
  close(): void;
}

/** The version a reconnecting subscriber holds (SSE Last-Event-ID), if it names one. */
function resumeFrom(req: IncomingMessage): number | undefined {
  const h = req.headers['last-event-id'];
  if (typeof h !== 'string' || !/^\d{1,15}$/.test(h)) return undefined;
  return Number(h);
}

export function createRevocationHandler(o: RevocationHandlerOptions): RevocationHandler {
  const publisher = new SnapshotPublisher({
    registry: o.registry,
    ...(o.key ? { key: o.key } : {}),
    ...(o.signer ? { signer: o.signer } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.resignAfter !== undefined ? { resignAfter: o.resignAfter } : {}),
    ...(o.errorRate !== undefined ? { errorRate: o.errorRate } : {}),
  });
  const onError =
    o.onError ?? ((e: unknown) => process.stderr.write(`capframe: revocation snapshot build failed: ${e instanceof Error ? e.message : String(e)}\n`));
  const viaSigner = o.key === undefined;
  const streams = new Set<ServerResponse>();
  const maxSubscribers = o.maxSubscribers ?? DEFAULT_MAX_SUBSCRIBERS;
  let closed = false;
  let scheduled = false;
  /** What the streams have been sent last: a version and its signature time. */
  let lastSent = -1;
  let lastSentIat = -1;

  // One encoded event per snapshot or delta, shared by every subscriber: a queued Buffer is held by
  // reference, so stalled subscribers cost no copy of a (megabytes large) snapshot each.
  let event: { text: string; bytes: Buffer } | undefined;
  function eventBytes(kind: 'snapshot' | 'delta', text: string, version: number): Buffer {
    if (event?.text !== text) event = { text, bytes: Buffer.from(`event: ${kind}\nid: ${version}\ndata: ${text}\n\n`, 'utf8') };
    return event.bytes;
  }
  // The same for GET /v1/revocations: every response refers to one encoded copy of the snapshot, so
  // clients that request it and do not read cost no megabytes each (as stalled stream subscribers).
  let body: { text: string; bytes: Buffer } | undefined;
  function snapshotBody(text: string): Buffer {
    if (body?.text !== text) body = { text, bytes: Buffer.from(text + '\n', 'utf8') };
    return body.bytes;
  }
  let bloomCached: { text: string; bytes: Buffer } | undefined;
  function bloomBody(text: string): Buffer {
    if (bloomCached?.text !== text) bloomCached = { text, bytes: Buffer.from(text + '\n', 'utf8') };
    return bloomCached.bytes;
  }
  function send(res: ServerResponse, kind: 'snapshot' | 'delta', text: string, version: number): void {
    // A subscriber that does not read is dropped rather than buffered without bound;
    // on reconnecting it catches up (deltas, or the current snapshot).
    if (res.writableLength > MAX_BUFFERED) {
      streams.delete(res);
      res.destroy();
      return;
    }
    res.write(eventBytes(kind, text, version));
  }

  /** Sends the newest delta when it takes the streams on; false when they need the full snapshot. */
  function pushDelta(): boolean {
    if (publisher.version === lastSent && publisher.latestDelta()?.iat === lastSentIat) return true;
    const d = publisher.latestDelta();
    if (d !== undefined && (d.from === lastSent || (d.from === d.version && d.version === lastSent))) {
      // Subscribers hold lastSent: the delta takes them on (a few hundred bytes).
      lastSent = d.version;
      lastSentIat = d.iat;
      for (const s of streams) send(s, 'delta', d.text, d.version);
      return true;
    }
    return false;
  }
  /** No delta chains from what was sent (a rebuild, or changes coalesced across a refresh): the snapshot. */
  function pushSnapshot(cur: SignedSnapshot): void {
    if (cur.version !== lastSent || cur.iat !== lastSentIat) {
      lastSent = cur.version;
      lastSentIat = cur.iat;
      for (const s of streams) send(s, 'snapshot', cur.text, cur.version);
    }
  }
  function check(): void {
    scheduled = false;
    if (closed) return;
    if (viaSigner) return void checkAsync();
    try {
      publisher.refresh(); // re-signs when due
      if (!pushDelta()) pushSnapshot(publisher.current());
    } catch (e) {
      onError(e);
    }
  }
  // One async check at a time; a poke during one runs another after it.
  let checking = false;
  let again = false;
  async function checkAsync(): Promise<void> {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        try {
          await publisher.refreshAsync();
          if (!closed && !pushDelta()) {
            const cur = await publisher.currentAsync();
            if (!closed) pushSnapshot(cur);
          }
        } catch (e) {
          onError(e);
        }
      } while (again && !closed);
    } finally {
      checking = false;
    }
  }
  function poke(): void {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(check);
  }

  const onChange = (): void => poke();
  o.registry.on('change', onChange);
  // Changes made by other processes (capframe revoke on the same database) and re-signing:
  // check() sends only when the publisher has a snapshot the streams have not seen.
  const watch = setInterval(() => {
    if (streams.size > 0) poke();
  }, o.watchMs ?? 100);
  watch.unref();
  const heartbeat = setInterval(() => {
    for (const s of streams) s.write(': ping\n\n');
  }, o.heartbeatMs ?? 15000);
  heartbeat.unref();

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== SNAPSHOT_PATH && path !== STREAM_PATH && path !== BLOOM_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    if (path === BLOOM_PATH) {
      if (viaSigner) {
        publisher.currentBloomAsync().then(
          (form) => sendBloom(req, res, form),
          (e: unknown) => unavailable(res, e, 'revocation bloom form unavailable'),
        );
        return true;
      }
      let form;
      try {
        form = publisher.currentBloom();
      } catch (e) {
        unavailable(res, e, 'revocation bloom form unavailable');
        return true;
      }
      sendBloom(req, res, form);
      return true;
    }
    // A subscriber resuming from a version whose deltas are kept gets those, not the snapshot.
    const resume = path === STREAM_PATH ? resumeFrom(req) : undefined;
    if (viaSigner) {
      const pending: Promise<SignedSnapshot | SignedDelta[]> =
        resume !== undefined
          ? publisher.refreshAsync().then<SignedSnapshot | SignedDelta[]>(() => publisher.deltasSince(resume) ?? publisher.currentAsync())
          : publisher.currentAsync();
      pending.then(
        (cur) => {
          if (!res.destroyed) answer(path, req, res, cur);
        },
        (e: unknown) => unavailable(res, e, 'revocation snapshot unavailable'),
      );
      return true;
    }
    let cur;
    try {
      if (resume !== undefined) {
        publisher.refresh();
        cur = publisher.deltasSince(resume) ?? publisher.current();
      } else {
        cur = publisher.current();
      }
    } catch (e) {
      unavailable(res, e, 'revocation snapshot unavailable');
      return true;
    }
    answer(path, req, res, cur);
    return true;
  }) as RevocationHandler;

  function unavailable(res: ServerResponse, e: unknown, what: string): void {
    onError(e);
    if (!res.headersSent && !res.destroyed) res.writeHead(503, { 'content-type': 'text/plain' }).end(`${what}\n`);
  }

  function sendBloom(req: IncomingMessage, res: ServerResponse, form: SignedBloomForm): void {
    const bytes = bloomBody(form.text);
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(bytes.length),
      'cache-control': 'no-store',
      'x-capframe-revocation-version': String(form.version),
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  /** The snapshot (GET) or a new stream subscriber, given what it starts from. */
  function answer(path: string, req: IncomingMessage, res: ServerResponse, cur: SignedSnapshot | SignedDelta[]): void {
    if (path === SNAPSHOT_PATH && !Array.isArray(cur)) {
      const bytes = snapshotBody(cur.text);
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(bytes.length),
        'cache-control': 'no-store',
        'x-capframe-revocation-version': String(cur.version),
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    if (closed) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('shutting down\n');
      return;
    }
    if (req.method === 'HEAD') {
      // Headers only: a HEAD request never becomes a (never-ending) subscriber.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }).end();
      return;
    }
    if (streams.size >= maxSubscribers) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5', connection: 'close' }).end('too many stream subscribers\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.write('retry: 1000\n\n');
    if (Array.isArray(cur)) {
      for (const d of cur) res.write(`event: delta\nid: ${d.version}\ndata: ${d.text}\n\n`);
    } else {
      res.write(eventBytes('snapshot', cur.text, cur.version));
    }
    streams.add(res);
    if (lastSent < 0) {
      // What this subscriber was given (the publisher may have moved on while a signer signed).
      lastSent = Array.isArray(cur) ? (cur.at(-1)?.version ?? publisher.version) : cur.version;
      lastSentIat = Array.isArray(cur) ? (cur.at(-1)?.iat ?? -1) : cur.iat;
    }
    const drop = (): void => {
      streams.delete(res);
    };
    req.on('close', drop);
    res.on('close', drop);
  }

  Object.defineProperties(handler, {
    publisher: { value: publisher },
    subscribers: { get: () => streams.size },
    poke: { value: poke },
    close: {
      value: () => {
        if (closed) return;
        closed = true;
        clearInterval(watch);
        clearInterval(heartbeat);
        o.registry.off('change', onChange);
        for (const s of streams) s.end();
        streams.clear();
      },
    },
  });
  return handler;
}

export interface RevocationServer {
  readonly url: string;
  readonly port: number;
  readonly handler: RevocationHandler;
  readonly server: Server;
  close(): Promise<void>;
}

/** A standalone server with only the revocation endpoints, on 127.0.0.1 (port 0: any free port). */
export async function startRevocationServer(o: RevocationHandlerOptions & { port?: number; host?: string }): Promise<RevocationServer> {
  const handler = createRevocationHandler(o);
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    handler,
    server,
    close: () =>
      new Promise<void>((done) => {
        handler.close();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
