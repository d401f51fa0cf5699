/**
 * Routes a request to its handler, turns refusals into JSON answers, and
 * counts every request: nothing a client sends can throw out of here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.ts';
import { HttpError, send } from './http.ts';

/** A built-in route: resolves with the status it answered. */
export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<number>;

/** Mounted request handler: returns true when it handled (or is handling) the request. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface RouteTable {
  /** By exact path; `method` when the route takes only one. */
  readonly [path: string]: { readonly method?: string; readonly route: Route };
}

export function createRouter(routes: RouteTable, handlers: readonly RouteHandler[], metrics: Metrics) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let route = path;
    metrics.inFlight++;
    let status = 500;
    try {
      const r = Object.prototype.hasOwnProperty.call(routes, path) ? routes[path] : undefined;
      if (r) {
        if (r.method !== undefined && req.method !== r.method) throw new HttpError(405, 'ERR_MALFORMED', `use ${r.method}`, 'method');
        status = await r.route(req, res);
      } else {
        for (const h of handlers) {
          if (h(req, res)) {
            status = 0;
            route = 'mounted';
            return;
          }
        }
        route = 'other';
        throw new HttpError(404, 'ERR_MALFORMED', 'no such endpoint', 'not_found');
      }
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        metrics.rejected(e.reason);
        const close = e.status === 413 || e.reason === 'aborted';
        send(res, e.status, { allowed: false, code: e.code, reason: e.message }, close ? { connection: 'close' } : {});
        if (close) res.on('finish', () => req.destroy());
      } else {
        status = 500;
        metrics.rejected('internal');
        send(res, 500, { allowed: false, code: 'ERR_INTERNAL', reason: 'internal error' });
      }
    } finally {
      metrics.inFlight--;
      if (status) metrics.request(route.startsWith('/v1/') || route === '/healthz' || route === '/metrics' ? route : 'other', status);
    }
  };
}
