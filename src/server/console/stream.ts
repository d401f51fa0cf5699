/**
 * Server-Sent Events to console pages. Bounded on every side: at most
 * `maxClients` streams; each client's unsent bytes are capped (a slow or
 * stalled reader is dropped instead of buffering without end); events are
 * written in batches by the console's drain, never from a decision.
 */
import type { ServerResponse } from 'node:http';

export interface StreamStats {
  clients: number;
  dropped: number;
  refused: number;
}

export class StreamHub<S extends object = object> {
  /** Each stream with the login it was opened under (null: anonymous, `views: public`). */
  readonly #clients = new Map<ServerResponse, S | null>();
  #anonymous = 0;
  /** Open streams per client address: one address cannot take every stream. */
  readonly #perAddress = new Map<string, number>();
  readonly #maxClients: number;
  readonly #maxBuffered: number;
  readonly stats: StreamStats = { clients: 0, dropped: 0, refused: 0 };

  constructor(maxClients: number, maxBufferedBytes: number) {
    this.#maxClients = maxClients;
    this.#maxBuffered = maxBufferedBytes;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** At most this many streams from one client address: half of all, and at least 2. */
  get maxPerAddress(): number {
    return Math.max(2, Math.floor(this.#maxClients / 2));
  }

  /** Streams only logged-in readers may take: anonymous readers cannot shut the admin out. A quarter of all (at least 1 when there are 2 or more). */
  get reserved(): number {
    return this.#maxClients >= 2 ? Math.max(1, Math.floor(this.#maxClients / 4)) : 0;
  }

  /**
   * False when full, in all, for this client address, or for anonymous
   * readers (the caller answers 503). `backlog` is sent first. `session`:
   * the login the stream belongs to (closeWhere ends it with the login).
   */
  open(res: ServerResponse, headers: Record<string, string>, backlog: string, session: S | null = null): boolean {
    const address = res.req.socket.remoteAddress ?? '?';
    const mine = this.#perAddress.get(address) ?? 0;
    if (this.#clients.size >= this.#maxClients || mine >= this.maxPerAddress || (session === null && this.#anonymous >= this.#maxClients - this.reserved)) {
      this.stats.refused++;
      return false;
    }
    this.#perAddress.set(address, mine + 1);
    if (session === null) this.#anonymous++;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    // The request deadline of the service must not cut a stream.
    res.socket?.setTimeout(0);
    this.#clients.set(res, session);
    this.stats.clients = this.#clients.size;
    res.on('close', () => {
      this.#clients.delete(res);
      if (session === null) this.#anonymous--;
      this.stats.clients = this.#clients.size;
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(address, n);
      else this.#perAddress.delete(address);
    });
    this.#write(res, ': capframe console\nretry: 2000\n\n' + backlog);
    return true;
  }

  #write(res: ServerResponse, chunk: string): void {
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > this.#maxBuffered) {
      this.stats.dropped++;
      this.#clients.delete(res);
      this.stats.clients = this.#clients.size;
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  broadcast(chunk: string): void {
    for (const c of this.#clients.keys()) this.#write(c, chunk);
  }

  /** Ends the streams opened under a login for which `ended` holds (a logout, an expired or evicted session). */
  closeWhere(ended: (session: S) => boolean): void {
    for (const [c, s] of this.#clients) if (s !== null && ended(s)) c.destroy();
  }

  closeAll(): void {
    for (const c of this.#clients.keys()) c.destroy();
    this.#clients.clear();
    this.stats.clients = 0;
  }
}

/** One SSE event; `data` is JSON (no newline can reach the frame). */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
