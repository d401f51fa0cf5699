/**
 * Decisions as OpenTelemetry spans and metrics, through `@opentelemetry/api`
 * (an optional peer: whatever SDK and exporter the application registered
 * receives them; with none registered the API does nothing, cheaply).
 *
 * One span per decision, named `execute_tool {tool}` with the GenAI semantic
 * conventions (`gen_ai.operation.name` = `execute_tool`, `gen_ai.tool.name`,
 * `gen_ai.tool.call.id`, `error.type` = the capframe code on denials) and
 * `capframe.*` attributes (ids and digests only). The span is started in the
 * caller's active context, so it joins the agent's trace: call the sink
 * synchronously where the decision is taken, as the guard and the service do.
 */
import { createRequire } from 'node:module';
import type * as Otel from '@opentelemetry/api';
import { ConfigError } from '../errors.ts';
import { eventFields, type AuditEvent } from './record.ts';

export type OtelApi = typeof Otel;

export interface OtelSinkOptions {
  /** The API module; default: the installed `@opentelemetry/api` (one global registry per process). */
  readonly api?: OtelApi;
  /** Tracer and meter name. Default `capframe`. */
  readonly name?: string;
  readonly version?: string;
  /** Also record `capframe.decisions` (counter) and `capframe.decision.duration` (histogram, ms). Default true. */
  readonly metrics?: boolean;
}

export type OtelSink = (event: AuditEvent) => void;

/**
 * The sink over `o.api`, or over the installed `@opentelemetry/api` (loaded
 * synchronously, so a guard built from a config can use it; ERR_CONFIG when
 * the package is not installed).
 */
export function otelSink(o: OtelSinkOptions = {}): OtelSink {
  let api = o.api;
  if (!api) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch (e) {
      throw new ConfigError('the OpenTelemetry sink needs the package @opentelemetry/api (npm install @opentelemetry/api)', { cause: e });
    }
  }
  return otelSinkWith(api, o);
}

/** The sink over an API module already loaded. */
export function otelSinkWith(api: OtelApi, o: OtelSinkOptions = {}): OtelSink {
  const name = o.name ?? 'capframe';
  const tracer = api.trace.getTracer(name, o.version);
  const meter = o.metrics === false ? undefined : api.metrics.getMeter(name, o.version);
  const decisions = meter?.createCounter('capframe.decisions', { description: 'Tool calls decided by capframe, by decision, code and tool.' });
  const duration = meter?.createHistogram('capframe.decision.duration', { description: 'Time taken to decide a tool call.', unit: 'ms' });
  const INTERNAL = api.SpanKind.INTERNAL;
  const ERROR = api.SpanStatusCode.ERROR;
  return (event: AuditEvent): void => {
    const f = eventFields(event);
    const tool = f.tool ?? 'unknown';
    const end = Date.now();
    const attributes: Otel.Attributes = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': tool,
      'capframe.decision': f.decision,
      'capframe.chain': f.chain as string[],
    };
    if (f.callId !== null) attributes['gen_ai.tool.call.id'] = f.callId;
    if (f.code !== null) {
      attributes['error.type'] = f.code;
      attributes['capframe.code'] = f.code;
    }
    if (f.subject !== null) attributes['capframe.subject'] = f.subject;
    if (f.operation !== null) attributes['capframe.operation'] = f.operation;
    if (f.resource !== null) attributes['capframe.resource'] = f.resource;
    if (f.argsDigest !== null) attributes['capframe.args_digest'] = f.argsDigest;
    if (f.mode !== null) attributes['capframe.mode'] = f.mode;
    if (f.source !== null) attributes['capframe.source'] = f.source;
    const span = tracer.startSpan(`execute_tool ${tool}`, { kind: INTERNAL, attributes, startTime: f.latencyMs !== null ? end - f.latencyMs : end });
    if (f.decision === 'deny') span.setStatus({ code: ERROR, message: f.code ?? 'denied' });
    span.end(end);
    if (decisions) {
      const labels = { 'capframe.decision': f.decision, 'capframe.code': f.code ?? 'OK', 'gen_ai.tool.name': tool };
      decisions.add(1, labels);
      if (f.latencyMs !== null) duration!.record(f.latencyMs, labels);
    }
  };
}
