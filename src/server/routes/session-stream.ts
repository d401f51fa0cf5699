/**
 * The stream binding of session calls (docs/spec.md §13.7.1):
 * `GET /v1/session/stream` with `Upgrade: capframe-session/1`, then one call
 * object per line from the client and one answer object per line from the
 * service, on a connection that stays open. Each call costs a line instead
 * of a share of an HTTP request, and answers leave in small groups as soon as
 * they are decided instead of all at once at the end of a batch.
 *
 * The decisions are those of POST /v1/session/calls (decideSessionCalls:
 * the same checks, audit and metrics). Hostile input: lines are capped (an
 * over-long or non-JSON line closes the stream), streams are capped per
 * address and in total, undecided calls per stream are capped (beyond, the
 * service stops reading: TCP backpressure), an idle stream is closed, and
 * nothing a client sends can throw out of the socket's callbacks.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { SessionTable } from '../../verify/session-table.ts';
import type { Decider } from '../decide.ts';
import type { Metrics } from '../metrics.ts';
import { clientAddress } from '../limits.ts';
import { decideSessionCalls } from './session.ts';

export const SESSION_STREAM_PATH = '/v1/session/stream';
export const SESSION_STREAM_PROTOCOL = 'capframe-session/1';

export interface SessionStreamOptions {
  /** Longest line (one call), bytes, newline excluded. Default 64 KiB. */
  readonly maxLine?: number;
  /** Open streams per remote address. Default 8. */
  readonly maxPerAddress?: number;
  /** Open streams in all. Default 256. */
  readonly maxTotal?: number;
  /** Calls read but not answered yet, per stream; beyond, the service stops reading. Default 256. */
  readonly maxUndecided?: number;
  /** A stream with no traffic either way for this long is closed, ms. Default 120 000. */
  readonly idleTimeout?: number;
}

/**
 * Calls decided together (one audit write, one socket write); their answers leave before the next group is decided.
 * A group is a quarter of the calls waiting, from MIN_GROUP to MAX_GROUP: with few waiting, the first answers leave
 * after two decisions instead of eight (the agent starts on them sooner); with many, fewer system calls per call.
 */
const MIN_GROUP = 2;
const MAX_GROUP = 8;
const B64U_22 = /^[A-Za-z0-9_-]{22}$/;

export interface SessionStreams {
  /** The server's 'upgrade' listener. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open streams. */
  readonly open: number;
  /** Ends every stream (the service is closing). */
  closeAll(): void;
}

function refuse(socket: Duplex, status: string, code: string, reason: string, extra = ''): void {
  const body = JSON.stringify({ allowed: false, code, reason });
  try {
    socket.end(
      `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  } catch {
    socket.destroy();
  }
}

/**
 * The upgrade handler of the stream binding. An upgrade to any other path or
 * protocol is refused (this server speaks no other).
 */
export function sessionStreams(table: SessionTable, decider: Decider, metrics: Metrics, o: SessionStreamOptions = {}): SessionStreams {
  const maxLine = o.maxLine ?? 64 * 1024;
  const maxPerAddress = o.maxPerAddress ?? 8;
  const maxTotal = o.maxTotal ?? 256;
  const maxUndecided = o.maxUndecided ?? 256;
  const idleTimeout = o.idleTimeout ?? 120_000;
  const live = new Set<Duplex>();
  const perAddress = new Map<string, number>();

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const protocol = String(req.headers.upgrade ?? '')
      .trim()
      .toLowerCase();
    const refused = (status: string, code: string, reason: string, metric: string, extra = ''): void => {
      metrics.rejected(metric);
      metrics.request(path === SESSION_STREAM_PATH ? SESSION_STREAM_PATH : 'other', Number(status.slice(0, 3)));
      refuse(socket, status, code, reason, extra);
    };
    if (path !== SESSION_STREAM_PATH) return refused('404 Not Found', 'ERR_MALFORMED', 'no such endpoint', 'not_found');
    if (req.method !== 'GET') return refused('405 Method Not Allowed', 'ERR_MALFORMED', 'use GET', 'method');
    if (protocol !== SESSION_STREAM_PROTOCOL) return refused('400 Bad Request', 'ERR_MALFORMED', `Upgrade: ${SESSION_STREAM_PROTOCOL} only`, 'invalid_body');
    // No browser has a reason to open this stream (and none can send this Upgrade header); a page that tries is refused.
    if (req.headers.origin !== undefined) return refused('403 Forbidden', 'ERR_UNAUTHORIZED', 'cross-origin streams are refused', 'origin');
    const addr = clientAddress(req.socket);
    const n = perAddress.get(addr) ?? 0;
    if (n >= maxPerAddress || live.size >= maxTotal) {
      return refused(
        '429 Too Many Requests',
        'ERR_UNAVAILABLE',
        n >= maxPerAddress ? `at most ${maxPerAddress} session streams per client address` : 'too many session streams',
        'too_many_streams',
        'Retry-After: 5\r\n',
      );
    }
    perAddress.set(addr, n + 1);
    live.add(socket);
    metrics.request(SESSION_STREAM_PATH, 101);
    socket.once('close', () => {
      live.delete(socket);
      const left = (perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) perAddress.delete(addr);
      else perAddress.set(addr, left);
    });
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${SESSION_STREAM_PROTOCOL}\r\n\r\n`);
    serve(socket as Socket, head, table);
  }

  function serve(socket: Socket, head: Buffer, t: SessionTable): void {
    socket.setNoDelay?.(true);
    socket.setTimeout?.(idleTimeout);
    socket.on('timeout', () => {
      metrics.rejected('timeout');
      socket.destroy();
    });
    let partial: Buffer[] = [];
    let partialSize = 0;
    const queue: unknown[] = [];
    let working = false;
    let paused = false;
    let writeBlocked = false;
    // The client half-closed: it sends nothing more; its calls are still answered, then the stream ends.
    // (node's HTTP server keeps its sockets half-open: without this, a stream the client left would stay counted.)
    let ended = false;
    socket.on('end', () => {
      ended = true;
      if (!working && queue.length === 0) socket.end();
    });

    const close = (reason: string): void => {
      metrics.rejected(reason);
      queue.length = 0;
      socket.destroy();
    };
    const flow = (): void => {
      const stop = queue.length >= maxUndecided || writeBlocked;
      if (stop && !paused) {
        paused = true;
        socket.pause();
      } else if (!stop && paused) {
        paused = false;
        socket.resume();
      }
    };
    const line = (buf: Buffer): boolean => {
      if (buf.length > maxLine) {
        close('too_large');
        return false;
      }
      let v: unknown;
      try {
        v = JSON.parse(buf.toString('utf8'));
      } catch {
        close('malformed_json');
        return false;
      }
      queue.push(v);
      return true;
    };
    const onData = (chunk: Buffer): void => {
      if (socket.destroyed) return;
      let from = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
        let buf = chunk.subarray(from, nl);
        if (partialSize > 0) {
          if (partialSize + buf.length > maxLine) return close('too_large');
          buf = Buffer.concat([...partial, buf], partialSize + buf.length);
          partial = [];
          partialSize = 0;
        }
        from = nl + 1;
        if (!line(buf)) return;
      }
      if (from < chunk.length) {
        partialSize += chunk.length - from;
        if (partialSize > maxLine) return close('too_large');
        partial.push(from === 0 ? chunk : chunk.subarray(from));
      }
      flow();
      if (!working && queue.length > 0) void work();
    };
    const work = async (): Promise<void> => {
      working = true;
      try {
        while (queue.length > 0 && !socket.destroyed) {
          const group = queue.splice(0, Math.min(MAX_GROUP, Math.max(MIN_GROUP, queue.length >> 2)));
          flow();
          const answers = await decideSessionCalls(t, decider, metrics, group);
          if (socket.destroyed) break;
          let out = '';
          for (let i = 0; i < answers.length; i++) {
            const c = group[i] as { session?: unknown } | null;
            const session = typeof c === 'object' && c !== null && typeof c.session === 'string' && B64U_22.test(c.session) ? c.session : undefined;
            out += JSON.stringify(session === undefined ? answers[i] : { session, ...answers[i] }) + '\n';
          }
          if (!socket.write(out)) {
            writeBlocked = true;
            flow();
          }
        }
      } catch {
        // Not expected (decideSessionCalls answers every call); the stream ends, the client seals its calls again.
        close('internal');
      } finally {
        working = false;
        if (ended && queue.length === 0) socket.end();
        else flow();
      }
    };
    socket.on('drain', () => {
      writeBlocked = false;
      flow();
    });
    socket.on('data', onData);
    if (head.length > 0) onData(head);
  }

  return {
    upgrade,
    get open() {
      return live.size;
    },
    closeAll() {
      for (const s of live) s.destroy();
    },
  };
}
