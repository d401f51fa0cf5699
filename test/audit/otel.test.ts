import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Guard, guardTools, memorySink, parseConfig } from '../../src/langchain/index.ts';
import { Verifier } from '../../src/index.ts';
import { otelSinkWith } from '../../src/audit/index.ts';
import { agentKey, CONFIG_TEXT, makeTools, runAgent, supportToken } from '../langchain/fixtures.ts';

class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const exporter = new InMemorySpanExporter();
const reader = new TestReader();
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

/** After the sinks' pending drains (scheduled with setImmediate when the decisions were taken). */
const afterDrain = () => new Promise<void>((r) => setImmediate(r));

const parentOf = (s: unknown): string | undefined =>
  (s as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId ?? (s as { parentSpanId?: string }).parentSpanId;

test('OpenTelemetry: one execute_tool span per decision, inside the agent trace, configured from YAML', async () => {
  exporter.reset();
  const text = CONFIG_TEXT.replace('audit:\n  sink: none', 'audit:\n  sink: none\n  export:\n    - otel: true');
  assert.notEqual(text, CONFIG_TEXT);
  const cfg = parseConfig(text, { file: 'otel.yaml' });
  const guard = new Guard({ config: cfg, verifier: new Verifier({ trusted: cfg.trusted }) });
  const tools = guardTools(makeTools(), guard);
  const tracer = api.trace.getTracer('agent');
  const root = tracer.startSpan('invoke_agent');
  await api.context.with(api.trace.setSpan(api.context.active(), root), () =>
    runAgent(
      tools,
      [
        { name: 'get_ticket', args: { id: '42' }, id: 'call-ok' },
        { name: 'get_org_ticket', args: { org: 'evil', id: '1' }, id: 'call-bad' },
      ],
      { configurable: { capframe: { token: supportToken(), holderKey: agentKey } } },
    ),
  );
  root.end();
  await afterDrain();
  const spans = exporter.getFinishedSpans().filter((s) => s.name.startsWith('execute_tool'));
  assert.equal(spans.length, 2);
  const ok = spans.find((s) => s.attributes['gen_ai.tool.call.id'] === 'call-ok')!;
  const bad = spans.find((s) => s.attributes['gen_ai.tool.call.id'] === 'call-bad')!;
  assert.equal(ok.name, 'execute_tool get_ticket');
  assert.equal(ok.attributes['gen_ai.operation.name'], 'execute_tool');
  assert.equal(ok.attributes['gen_ai.tool.name'], 'get_ticket');
  assert.equal(ok.attributes['capframe.decision'], 'allow');
  assert.equal(ok.attributes['capframe.resource'], 'tickets://acme/42');
  assert.equal(ok.attributes['error.type'], undefined);
  assert.equal(ok.status.code, api.SpanStatusCode.UNSET);
  assert.equal(bad.attributes['error.type'], 'ERR_SCOPE_RESOURCE');
  assert.equal(bad.status.code, api.SpanStatusCode.ERROR);
  for (const s of [ok, bad]) {
    assert.equal(s.spanContext().traceId, root.spanContext().traceId, 'joined to the agent trace');
    assert.ok(parentOf(s), 'has a parent in the agent trace');
    assert.ok(!JSON.stringify(s.attributes).includes('cft1.'), 'no token in span attributes');
  }

  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const metrics = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics);
  const decisions = metrics.find((m) => m.descriptor.name === 'capframe.decisions')!;
  const byCode = Object.fromEntries(decisions.dataPoints.map((p) => [String(p.attributes['capframe.code']), p.value]));
  assert.equal(byCode.OK, 1);
  assert.equal(byCode.ERR_SCOPE_RESOURCE, 1);
});

test('OpenTelemetry: a decision span is a child of the active span, also outside LangChain', async () => {
  exporter.reset();
  const sink = otelSinkWith(api, { metrics: false });
  const parent = api.trace.getTracer('t').startSpan('parent');
  const before = Date.now();
  api.context.with(api.trace.setSpan(api.context.active(), parent), () => sink({ decision: 'deny', code: 'ERR_REPLAY', tool: 'x', latencyMs: 1.5 }));
  const after = Date.now();
  parent.end();
  assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool x').length, 0, 'the span is made off the call path');
  await new Promise((r) => setTimeout(r, 20));
  await sink.flush();
  const [span] = exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool x');
  assert.ok(span);
  assert.equal(parentOf(span), parent.spanContext().spanId, 'the context noted at the decision is the parent, not the one of the drain');
  assert.equal(span.spanContext().traceId, parent.spanContext().traceId);
  assert.equal(span.attributes['error.type'], 'ERR_REPLAY');
  // Times are the decision's, not the drain's (which ran at least 20 ms later).
  const ms = (t: api.HrTime) => t[0] * 1000 + t[1] / 1e6;
  assert.ok(ms(span.endTime) >= before && ms(span.endTime) <= after, 'ends when the decision was taken');
  assert.ok(Math.abs(ms(span.endTime) - ms(span.startTime) - 1.5) < 0.01, 'starts latencyMs before');
});

test('OpenTelemetry: the queue is bounded (drops counted), a closed sink records nothing, and a throwing SDK never reaches the caller', async () => {
  exporter.reset();
  const sink = otelSinkWith(api, { metrics: false, maxQueue: 2 });
  for (let i = 0; i < 3; i++) sink({ decision: 'allow', tool: 'q', callId: `q${i}` });
  assert.equal(sink.stats.dropped, 1);
  assert.equal(sink.stats.queued, 2);
  await sink.flush();
  assert.equal(sink.stats.sent, 2);
  assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool q').length, 2);
  await sink.close();
  sink({ decision: 'allow', tool: 'q' });
  await sink.flush();
  assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool q').length, 2);

  const broken = {
    ...api,
    trace: {
      ...api.trace,
      getTracer: () => ({
        startSpan: () => {
          throw new Error('sdk bug');
        },
      }),
    },
  } as unknown as typeof api;
  const b = otelSinkWith(broken, { metrics: false });
  assert.doesNotThrow(() => b({ decision: 'allow', tool: 'z' }));
  await b.flush();
  assert.equal(b.stats.errors, 1);
});

test('a guard with a memory sink and export sinks sends each decision to all of them', async () => {
  exporter.reset();
  const cfg = parseConfig(CONFIG_TEXT, { file: 'x.yaml' });
  const mem = memorySink();
  const otel = otelSinkWith(api);
  const guard = new Guard({ config: cfg, verifier: new Verifier({ trusted: cfg.trusted }), sink: (e) => (mem(e), otel(e)) });
  await runAgent(guardTools(makeTools(), guard), [{ name: 'get_ticket', args: { id: '1' } }], {
    configurable: { capframe: { token: supportToken(), holderKey: agentKey } },
  });
  await otel.flush();
  assert.equal(mem.events.length, 1);
  assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool get_ticket').length, 1);
});
