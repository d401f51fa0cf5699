/**
 * Decisions as OpenTelemetry spans and metrics, through `@opentelemetry/api`
 * (an optional peer: whatever SDK and exporter the application registered
 * receives them; with none registered the API does nothing, cheaply).
 *
 * One span per decision, named `execute_tool {tool}` with the GenAI semantic
 * conventions (`gen_ai.operation.name` = `execute_tool`, `gen_ai.tool.name`,
 * `gen_ai.tool.call.id`, `error.type` = the capframe code on denials) and
 * `capframe.*` attributes (ids and digests only). The sink notes the
 * caller's active context, so the span joins the agent's trace: call the sink
 * synchronously where the decision is taken, as the guard and the service do.
 * The span itself is made a moment later, off the call's path (see OtelSink).
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
  /** Decisions held until their spans are made (on the event loop, soon after); more are dropped and counted. Default 10,000. */
  readonly maxQueue?: number;
}

/**
 * The sink: called where the decision is taken, it only notes the event,
 * the caller's active context and the time (bounded queue, the newest event
 * dropped and counted when full); spans and metrics are made later on the
 * event loop, with the noted context as parent and explicit start and end
 * times, so they join the agent's trace exactly as if made at once.
 */
export interface OtelSink {
  (event: AuditEvent): void;
  readonly name: string;
  readonly stats: { sent: number; dropped: number; errors: number; readonly queued: number };
  /** Makes the spans and metrics of every queued decision now (resolves at once; the signature is ExportSink's). */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops recording; queued decisions are dropped (counted). */
  close(): Promise<void>;
}

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

/** Decisions waiting for their span by default: about a second of a busy agent. */
const DEFAULT_MAX_QUEUE = 10_000;

/** The sink over an API module already loaded. */
export function otelSinkWith(api: OtelApi, o: OtelSinkOptions = {}): OtelSink {
  const name = o.name ?? 'capframe';
  const maxQueue = o.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) throw new ConfigError('the OpenTelemetry sink: maxQueue must be a whole number from 1');
  const tracer = api.trace.getTracer(name, o.version);
  const meter = o.metrics === false ? undefined : api.metrics.getMeter(name, o.version);
  const decisions = meter?.createCounter('capframe.decisions', { description: 'Tool calls decided by capframe, by decision, code and tool.' });
  const duration = meter?.createHistogram('capframe.decision.duration', { description: 'Time taken to decide a tool call.', unit: 'ms' });
  const INTERNAL = api.SpanKind.INTERNAL;
  const ERROR = api.SpanStatusCode.ERROR;
  const context = api.context;
  // Span names and metric labels repeat: one string or object each, kept (bounded) rather than rebuilt per decision.
  const spanNames = new Map<string, string>();
  const labelSets = new Map<string, { labels: Otel.Attributes; n: number }>();
  const spanName = (tool: string): string => {
    let n = spanNames.get(tool);
    if (n === undefined) {
      n = `execute_tool ${tool}`;
      if (spanNames.size >= 1024) spanNames.clear();
      spanNames.set(tool, n);
    }
    return n;
  };

  let events: AuditEvent[] = [];
  let contexts: Otel.Context[] = [];
  let times: number[] = [];
  let scheduled = false;
  let closed = false;
  const stats = {
    sent: 0,
    dropped: 0,
    errors: 0,
    get queued() {
      return events.length;
    },
  };

  const record = (event: AuditEvent, parent: Otel.Context, end: number): void => {
    const f = eventFields(event);
    const tool = f.tool ?? 'unknown';
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
    const span = tracer.startSpan(spanName(tool), { kind: INTERNAL, attributes, startTime: f.latencyMs !== null ? end - f.latencyMs : end }, parent);
    if (f.decision === 'deny') span.setStatus({ code: ERROR, message: f.code ?? 'denied' });
    span.end(end);
    if (decisions) {
      const code = f.code ?? 'OK';
      const key = f.decision + '\u0000' + code + '\u0000' + tool;
      let l = labelSets.get(key);
      if (l === undefined) {
        if (labelSets.size >= 1024) addCounts();
        l = { labels: { 'capframe.decision': f.decision, 'capframe.code': code, 'gen_ai.tool.name': tool }, n: 0 };
        labelSets.set(key, l);
      }
      l.n++;
      if (f.latencyMs !== null) duration!.record(f.latencyMs, l.labels);
    }
  };
  /** The counter's additions of a batch, one per label set (the SDK hashes the labels on every add). */
  const addCounts = (): void => {
    for (const l of labelSets.values()) {
      if (l.n > 0) decisions!.add(l.n, l.labels);
      l.n = 0;
    }
    if (labelSets.size >= 1024) labelSets.clear();
  };
  const drain = (): void => {
    scheduled = false;
    const es = events;
    const cs = contexts;
    const ts = times;
    events = [];
    contexts = [];
    times = [];
    for (let i = 0; i < es.length; i++) {
      try {
        record(es[i]!, cs[i]!, ts[i]!);
        stats.sent++;
      } catch {
        stats.errors++;
      }
    }
    if (decisions) {
      try {
        addCounts();
      } catch {
        stats.errors++;
      }
    }
  };
  const sink = ((event: AuditEvent): void => {
    if (closed) return;
    if (events.length >= maxQueue) {
      stats.dropped++;
      return;
    }
    events.push(event);
    contexts.push(context.active());
    times.push(Date.now());
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }) as OtelSink;
  Object.defineProperties(sink, {
    name: { value: `otel:${name}` },
    stats: { value: stats },
    flush: {
      value: (): Promise<void> => {
        drain();
        return Promise.resolve();
      },
    },
    close: {
      value: (): Promise<void> => {
        closed = true;
        stats.dropped += events.length;
        events = [];
        contexts = [];
        times = [];
        return Promise.resolve();
      },
    },
  });
  return sink;
}
