/** GET /healthz and GET /metrics (Prometheus text). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../metrics.ts';
import { send } from '../http.ts';

export function healthRoute() {
  return async function health(_req: IncomingMessage, res: ServerResponse): Promise<number> {
    send(res, 200, { status: 'ok' });
    return 200;
  };
}

export function metricsRoute(metrics: Metrics) {
  return async function metricsText(_req: IncomingMessage, res: ServerResponse): Promise<number> {
    send(res, 200, metrics.render());
    return 200;
  };
}
