/**
 * Keeps a verifier's RevocationState fresh: polls GET /v1/revocations every
 * `pollInterval` seconds (default 30) and, unless `stream: false`, subscribes
 * to GET /v1/revocations/stream (Server-Sent Events): a full snapshot on
 * connect, then a signed delta per change. A delta that does not start at the
 * held version (a gap) makes it fetch the full snapshot; a reconnect resumes
 * with Last-Event-ID, so a verifier that missed a few versions gets deltas.
 * A lost stream reconnects after `reconnectMs`. Nothing here decides: a
 * verifier that cannot refresh goes stale and the state fails closed.
 */
import { toCapframeError } from '../error-codes.ts';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError } from '../errors.ts';
import { MAX_SNAPSHOT_BYTES } from '../revocation/snapshot.ts';
import { BLOOM_PATH, SNAPSHOT_PATH, STREAM_PATH } from '../revocation/paths.ts';
import type { RevocationState, UpdateResult } from '../revocation/state.ts';
import { BloomRevocationState } from '../revocation/bloom-state.ts';
import { trimAsciiWhitespace } from '../token/token.ts';

export interface RevocationSyncOptions {
  /** Base URL of the authority service, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** A RevocationState (the exact form, with the stream) or a BloomRevocationState (the compact form, §10.9: polled, no stream). */
  state: RevocationState | BloomRevocationState;
  /** Seconds between polls. Default 30. */
  pollInterval?: number;
  /** Subscribe to the push stream. Default true. */
  stream?: boolean;
  /** Timeout of one poll request, ms. Default 5000. */
  timeoutMs?: number;
  /** Delay before reconnecting a lost stream, ms. Default 1000. */
  reconnectMs?: number;
  /** Refresh failures (network, bad or rolled-back snapshots). Default: one line on stderr. */
  onError?: (e: unknown) => void;
}

const MAX_TEXT = Math.ceil((MAX_SNAPSHOT_BYTES * 4) / 3) + 64;

export class RevocationSync {
  readonly state: RevocationState | BloomRevocationState;
  readonly #base: URL;
  readonly #path: string;
  readonly #poll: number;
  readonly #stream: boolean;
  readonly #timeout: number;
  readonly #reconnect: number;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #req: ClientRequest | undefined;
  #running = false;
  #connected = false;
  /** Version of the last event applied: sent as Last-Event-ID on reconnect, to resume with deltas. */
  #lastId: string | undefined;

  constructor(o: RevocationSyncOptions) {
    if (!o || !o.state || typeof o.url !== 'string') throw new InvalidArgumentError('RevocationSync needs a url and a RevocationState');
    this.#base = new URL(o.url);
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new InvalidArgumentError('RevocationSync url must be http(s)');
    this.state = o.state;
    const poll = o.pollInterval ?? 30;
    if (typeof poll !== 'number' || !(poll > 0)) throw new InvalidArgumentError('pollInterval must be a positive number of seconds');
    this.#poll = poll * 1000;
    // The compact form has no deltas: it is polled whole (~120 KB for 100,000 ids).
    const compact = o.state instanceof BloomRevocationState;
    this.#path = compact ? BLOOM_PATH : SNAPSHOT_PATH;
    this.#stream = o.stream !== false && !compact;
    this.#timeout = o.timeoutMs ?? 5000;
    this.#reconnect = o.reconnectMs ?? 1000;
    const onError = o.onError ?? ((e: unknown) => process.stderr.write(`capframe: revocation refresh failed: ${e instanceof Error ? e.message : String(e)}\n`));
    // Whatever went wrong (HTTP status, reset, timeout, a bad snapshot), the handler gets a CapframeError.
    this.#onError = (e) => onError(toCapframeError(e, 'ERR_UNAVAILABLE'));
  }

  /** Whether the push stream is currently connected. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Starts polling and the stream. Resolves after the first poll: with its
   * result, or rejects with its error (polling continues either way).
   */
  async start(): Promise<UpdateResult> {
    if (this.#running) return this.refresh();
    this.#running = true;
    if (this.#stream) this.#subscribe();
    this.#schedule();
    return this.refresh();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#reconnectTimer);
    this.#req?.destroy();
    this.#req = undefined;
    this.#connected = false;
  }

  /** One poll now. A failure rejects with a CapframeError (ERR_UNAVAILABLE unless it has a code of its own). */
  refresh(): Promise<UpdateResult> {
    return new Promise<UpdateResult>((resolve, reject) => {
      const path = this.#path;
      const req = this.#request(new URL(path, this.#base), { method: 'GET', timeout: this.#timeout }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
          return;
        }
        // update() throws for a bad, untrusted or rolled-back snapshot: that must reject this poll,
        // never escape as an unhandled rejection (which would end the process and stop polling).
        readText(res, MAX_TEXT).then((text) => {
          try {
            resolve(this.state.update(trimAsciiWhitespace(text)));
          } catch (e) {
            reject(e);
          }
        }, reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on('error', reject);
      req.end();
    }).catch((e: unknown) => {
      throw toCapframeError(e, 'ERR_UNAVAILABLE');
    });
  }

  /** node:http or node:https, by the URL's protocol (node:http refuses https: URLs by throwing). */
  #request(url: URL, options: RequestOptions, cb: (res: IncomingMessage) => void): ClientRequest {
    return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, cb);
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.refresh()
        .catch(this.#onError)
        .finally(() => this.#schedule());
    }, this.#poll);
  }

  #subscribe(): void {
    if (!this.#running) return;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#lastId !== undefined && /^\d{1,15}$/.test(this.#lastId)) headers['last-event-id'] = this.#lastId;
    const req = this.#request(new URL(STREAM_PATH, this.#base), { method: 'GET', headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        this.#onError(new Error(`GET ${STREAM_PATH}: HTTP ${res.statusCode}`));
        return;
      }
      this.#connected = true;
      res.setEncoding('utf8');
      let buf = '';
      let from = 0;
      res.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.length > MAX_TEXT) {
          req.destroy(new Error('stream event too large'));
          return;
        }
        for (;;) {
          const end = buf.indexOf('\n\n', Math.max(0, from - 1));
          if (end < 0) {
            from = buf.length;
            break;
          }
          this.#event(buf.slice(0, end));
          buf = buf.slice(end + 2);
          from = 0;
        }
      });
    });
    req.on('close', () => {
      this.#connected = false;
      if (this.#req === req) this.#req = undefined;
      if (this.#running) this.#reconnectTimer = setTimeout(() => this.#subscribe(), this.#reconnect);
    });
    req.on('error', (e) => {
      if (this.#running) this.#onError(e);
    });
    req.end();
    this.#req = req;
  }

  #event(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if ((event !== 'snapshot' && event !== 'delta') || data.length === 0) return;
    try {
      if (event === 'snapshot') {
        this.state.update(data.join('\n'));
        this.#lastId = id;
        return;
      }
      const r = this.state.applyDelta(data.join('\n'));
      if (r.outcome === 'gap') {
        // Behind (or nothing held): the full snapshot, then deltas again.
        this.#lastId = undefined;
        this.refresh().catch(this.#onError);
      } else {
        this.#lastId = id;
      }
    } catch (e) {
      this.#onError(e);
    }
  }
}

function readText(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    res.setEncoding('utf8');
    let text = '';
    res.on('data', (c: string) => {
      text += c;
      if (text.length > max) res.destroy(new Error('snapshot response too large'));
    });
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}
