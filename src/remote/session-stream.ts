/**
 * The client end of the stream binding of session calls (docs/spec.md
 * §13.7.1): one upgraded connection per RemoteVerifier, opened on the first
 * call, carrying sealed calls as JSON lines (the calls of one event-loop turn
 * in one write) and reading answers as JSON lines, matched to their calls by
 * session and counter, in whatever order they come.
 *
 * This module only carries envelopes: it never decides. An answer is handed
 * to ClientSession.open, which takes an allow only from a tagged answer. A
 * call whose answer was lost with the connection comes back as 'lost' (its
 * counter may have reached the service: the caller seals it again with a new
 * counter); a refused upgrade comes back as 'refused' (the call was never
 * sent: the caller uses the HTTP binding from then on).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { SessionAnswer, SessionCall } from '../verify/session-table.ts';

export const SESSION_STREAM_PATH = '/v1/session/stream';
export const SESSION_STREAM_PROTOCOL = 'capframe-session/1';

/** What a call sent over the stream comes back as. */
export type StreamResult = SessionAnswer | 'lost' | 'refused' | Error;

/** Longest answer line read, bytes: an answer holds one decision (at most 64 KiB of JSON text) and its tag. */
const MAX_ANSWER_LINE = 160 * 1024;

/**
 * When sealed calls leave: once MIN_WRITE have gathered, or one in 2^WRITE_SHIFT of those waiting for answers (so a
 * write carries more calls as more are in flight: 2 at 100 in flight, ~30 at 1,000), or at the end of the turn.
 * Small writes let the service decide the first calls while the agent still seals the rest; larger ones under load
 * keep the system calls per call down (docs/sessions.md has the measurements).
 */
const MIN_WRITE = 2;
const WRITE_SHIFT = 5;

/** How long a client uses the HTTP binding after the service answered the upgrade 429 or 503 (stream caps), ms. */
const REFUSED_FOR = 30_000;

interface Waiting {
  readonly resolve: (r: StreamResult) => void;
  readonly deadline: number;
}

export interface SessionStreamStats {
  /** Streams opened (upgrades answered 101). */
  streams: number;
  /** Streams opened after one was lost. */
  reconnects: number;
  /** Calls whose answer was lost with a stream. */
  lost: number;
}

export class SessionStream {
  readonly #url: URL;
  readonly #path: string;
  readonly #timeout: number;
  readonly #stats: SessionStreamStats;
  #socket: Socket | undefined;
  #opening: ClientRequest | undefined;
  #waiting = new Map<string, Waiting>();
  #out = '';
  #flushScheduled = false;
  /** Calls added to #out since the last write. */
  #unsent = 0;
  #sweep: NodeJS.Timeout | undefined;
  #lostAt = 0;
  #closed = false;
  #refusedUntil = 0;

  /** `base` is the service URL (its path is the prefix of /v1/…). */
  constructor(base: string, timeout: number, stats: SessionStreamStats) {
    this.#url = new URL(base);
    this.#path = this.#url.pathname.replace(/\/+$/, '') + SESSION_STREAM_PATH;
    this.#timeout = timeout;
    this.#stats = stats;
  }

  /**
   * True while the service refuses the upgrade: for good after a refusal (it does not speak the stream), for a
   * while after 429 or 503 (its stream caps). The caller uses the HTTP binding meanwhile.
   */
  get refused(): boolean {
    return this.#refusedUntil > Date.now();
  }

  /** Sends one sealed call; resolves with its answer, 'lost', 'refused' or an Error (unreachable, timed out). Never rejects. */
  send(call: SessionCall): Promise<StreamResult> {
    if (this.refused) return Promise.resolve('refused');
    if (this.#closed) return Promise.resolve(new Error('the verifier is closed'));
    return new Promise<StreamResult>((resolve) => {
      const key = call.session + '.' + call.counter;
      if (this.#waiting.has(key)) {
        resolve(new Error('a call with this session and counter is already waiting'));
        return;
      }
      this.#waiting.set(key, { resolve, deadline: Date.now() + this.#timeout });
      this.#out += JSON.stringify(call) + '\n';
      // Calls leave in small writes while few are waiting (the service starts deciding while the agent still seals the
      // rest of a turn's calls), in larger ones as more wait (each write costs a system call on both ends); whatever is
      // left leaves at the end of the turn.
      if (++this.#unsent >= Math.max(MIN_WRITE, this.#waiting.size >> WRITE_SHIFT) && this.#socket) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
      this.#sweep ??= setInterval(() => this.#expire(), Math.max(20, Math.min(500, this.#timeout / 4))).unref();
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#opening?.destroy();
    this.#settleAll(new Error('the verifier is closed'));
  }

  #flush(): void {
    this.#unsent = 0;
    if (this.#out === '') return;
    if (this.#socket) {
      const out = this.#out;
      this.#out = '';
      this.#socket.write(out);
    } else if (!this.#opening) {
      this.#open(Date.now() - this.#lostAt < this.#timeout ? Date.now() + this.#timeout : 0);
    }
  }

  /** Answers every waiting call with `r` and drops what was not written yet. */
  #settleAll(r: StreamResult | ((k: string) => StreamResult)): void {
    const waiting = this.#waiting;
    this.#waiting = new Map();
    this.#out = '';
    for (const [k, w] of waiting) w.resolve(typeof r === 'function' ? r(k) : r);
    this.#stopSweep();
  }

  #stopSweep(): void {
    if (this.#waiting.size === 0 && this.#sweep) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  #expire(): void {
    const now = Date.now();
    for (const [k, w] of this.#waiting) {
      if (w.deadline <= now) {
        this.#waiting.delete(k);
        w.resolve(new Error(`no answer within ${this.#timeout} ms`));
      }
    }
    this.#stopSweep();
  }

  /**
   * Opens the stream. `retryUntil` > 0 (a stream was just lost, e.g. the
   * service restarts): a refused connection is tried again, briefly, until then.
   */
  #open(retryUntil: number): void {
    const u = this.#url;
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)({
      protocol: u.protocol,
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (u.protocol === 'https:' ? 443 : 80),
      path: this.#path,
      method: 'GET',
      headers: { connection: 'Upgrade', upgrade: SESSION_STREAM_PROTOCOL },
      agent: false,
      timeout: this.#timeout,
    });
    this.#opening = req;
    req.on('timeout', () => req.destroy(new Error(`no upgrade within ${this.#timeout} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (this.#opening !== req) return;
      this.#opening = undefined;
      if (!this.#closed && retryUntil > Date.now() && (e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET')) {
        setTimeout(() => {
          if (!this.#closed && !this.#socket && !this.#opening && this.#out !== '') this.#open(retryUntil);
        }, 50).unref();
        return;
      }
      this.#settleAll(new Error(`session stream: ${e.message}`));
    });
    req.on('response', (res: IncomingMessage) => {
      // Anything but 101: this service (or a proxy before it) does not speak the stream; none of the calls was sent.
      res.resume();
      if (this.#opening !== req) return;
      this.#opening = undefined;
      this.#refusedUntil = res.statusCode === 429 || res.statusCode === 503 ? Date.now() + REFUSED_FOR : Infinity;
      this.#settleAll('refused');
    });
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.#opening !== req) {
        socket.destroy();
        return;
      }
      this.#opening = undefined;
      if (String(res.headers.upgrade ?? '').toLowerCase() !== SESSION_STREAM_PROTOCOL || this.#closed) {
        socket.destroy();
        this.#settleAll(new Error('session stream: the service switched to another protocol'));
        return;
      }
      this.#stats.streams++;
      if (this.#lostAt > 0) this.#stats.reconnects++;
      this.#attach(socket, head);
    });
    req.end();
  }

  #attach(socket: Socket, head: Buffer): void {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    let partial = '';
    // Decoded by the socket, so that a character split across two reads stays whole (a decision may hold any text).
    socket.setEncoding('utf8');
    const onData = (chunk: string): void => {
      let text = partial + chunk;
      let from = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
        if (!this.#answer(text.slice(from, nl))) {
          socket.destroy();
          return;
        }
        from = nl + 1;
      }
      text = from === 0 ? text : text.slice(from);
      if (text.length > MAX_ANSWER_LINE) {
        socket.destroy();
        return;
      }
      partial = text;
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.destroy());
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#lostAt = Date.now();
      // Calls written to this stream may or may not have been decided: the caller seals them again (new counter).
      // Lines not written yet belong to these same calls: dropped with them.
      this.#stats.lost += this.#waiting.size;
      this.#settleAll('lost');
    });
    if (head.length > 0) onData(head.toString('utf8'));
    this.#flush();
  }

  /** One answer line: resolves its call. False when the line is not an answer (the stream is closed: the service is broken). */
  #answer(line: string): boolean {
    let a: unknown;
    try {
      a = JSON.parse(line);
    } catch {
      return false;
    }
    if (typeof a !== 'object' || a === null) return false;
    const o = a as { session?: unknown; counter?: unknown; decision?: unknown; tag?: unknown };
    if (typeof o.counter !== 'number' || typeof o.decision !== 'string' || o.decision.length > 64 * 1024) return false;
    if (o.tag !== undefined && (typeof o.tag !== 'string' || o.tag.length !== 43)) return false;
    // An answer without a session names no call of this client (it sends only well-formed calls); one for a call no longer
    // waiting (timed out) is dropped too. ClientSession.open checks the rest, the tag first.
    if (typeof o.session !== 'string') return true;
    const key = o.session + '.' + o.counter;
    const w = this.#waiting.get(key);
    if (!w) return true;
    this.#waiting.delete(key);
    w.resolve(o.tag === undefined ? { counter: o.counter, decision: o.decision } : { counter: o.counter, decision: o.decision, tag: o.tag });
    return true;
  }
}
