/**
 * Per-client limits of the service, so that one client cannot deny service
 * to the others by holding what they all share:
 *
 *  - connections per remote address (beyond: the new socket is closed at
 *    once), below the server-wide `maxConnections`;
 *  - long-lived requests (the revocation push stream) per remote address
 *    (beyond: 429), below the stream's own subscriber cap;
 *  - a connection that has not sent its first request within the headers
 *    deadline is closed (node's own header and request deadlines only start
 *    counting at the first byte of a request).
 */
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import type { Metrics } from './metrics.ts';
import type { RouteHandler } from './router.ts';
import { send } from './http.ts';

/**
 * The address a client is counted under: IPv4-mapped IPv6 as IPv4, and any
 * other IPv6 address by its /64 prefix. One host is routinely given a whole
 * /64 and can send from any of its 2^64 addresses, so counting full IPv6
 * addresses would give it an unbounded number of per-address allowances.
 */
export function clientAddress(socket: Pick<Socket, 'remoteAddress'>): string {
  const a = socket.remoteAddress ?? 'unknown';
  if (a.startsWith('::ffff:') && !isIPv6(a.slice(7))) return a.slice(7);
  return isIPv6(a) ? ipv6Prefix64(a) : a;
}

/** The first four groups of an IPv6 address (zone dropped), in canonical lowercase hex, as `x:x:x:x::/64`. */
function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%');
  const a = zone < 0 ? address : address.slice(0, zone);
  const width = (parts: string[]) => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const gap = a.indexOf('::');
  let groups: string[];
  if (gap < 0) groups = a.split(':');
  else {
    const head = gap === 0 ? [] : a.slice(0, gap).split(':');
    const tail = gap + 2 === a.length ? [] : a.slice(gap + 2).split(':');
    groups = [...head, ...Array<string>(Math.max(0, 8 - width(head) - width(tail))).fill('0'), ...tail];
  }
  return (
    groups
      .slice(0, 4)
      .map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)))
      .join(':') + '::/64'
  );
}

export function limitConnectionsPerAddress(server: Server, max: number, firstRequestTimeout: number, metrics: Metrics): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const addr = clientAddress(socket);
    const n = open.get(addr) ?? 0;
    if (n >= max) {
      metrics.rejected('too_many_connections');
      socket.destroy();
      return;
    }
    open.set(addr, n + 1);
    // Nothing sent at all: closed after the headers deadline, like a request that stalls in its headers.
    let idle: NodeJS.Timeout | undefined = setTimeout(() => {
      metrics.rejected('timeout');
      socket.destroy();
    }, firstRequestTimeout);
    idle.unref();
    socket.once('data', () => {
      clearTimeout(idle);
      idle = undefined;
    });
    socket.once('close', () => {
      clearTimeout(idle);
      const left = (open.get(addr) ?? 1) - 1;
      if (left <= 0) open.delete(addr);
      else open.set(addr, left);
    });
  });
}

/**
 * Wraps a mounted handler: requests to `paths` (long-lived ones) are
 * limited to `max` at a time per remote address; more get 429.
 */
export function limitStreamsPerAddress(handler: RouteHandler, paths: readonly string[], max: number, metrics: Metrics): RouteHandler {
  const open = new Map<string, number>();
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (!paths.includes(path)) return handler(req, res);
    const addr = clientAddress(req.socket);
    const n = open.get(addr) ?? 0;
    if (n >= max) {
      metrics.rejected('too_many_streams');
      send(res, 429, { code: 'ERR_UNAVAILABLE', reason: `at most ${max} revocation streams per client address` }, { 'retry-after': '5', connection: 'close' });
      return true;
    }
    const handled = handler(req, res);
    if (handled) {
      open.set(addr, n + 1);
      res.once('close', () => {
        const left = (open.get(addr) ?? 1) - 1;
        if (left <= 0) open.delete(addr);
        else open.set(addr, left);
      });
    }
    return handled;
  };
}
