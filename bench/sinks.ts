/**
 * Sinks suite: what decision export costs per guarded call.
 *
 * The same guarded no-op tool call (in-process check) four ways, in
 * interleaved rounds of N sequential calls: the guard's sink off, the OCSF
 * file export plus OpenTelemetry (a real SDK tracer provider with a batch
 * span processor, and a meter provider) on, OCSF only, and OTel only. Each
 * round with sinks ends by waiting for the export queues to drain (and the
 * SDK to export), so the deferred formatting, writing and span work is
 * inside the measured time, not only the enqueue.
 *
 *   sink_overhead_us            on minus off, wall time per call with the drain
 *                               (the figure; beside one native verify)
 *   sink[_ocsf|_otel]_call_path_us   latency the caller sees: the calls alone
 *   sink[_ocsf|_otel]_with_drain_us  as sink_overhead_us, per configuration
 *   sink[_ocsf|_otel]_cpu_us    CPU per call (process.cpuUsage: the main
 *                               thread and helper threads), drain included
 *   otel_sdk_span_us            the OTel SDK's own work for one such span
 *                               (same attributes, parent and explicit times,
 *                               through the same provider, exported), made
 *                               without capframe: CPU per span
 *   sink[_otel]_capframe_cpu_us CPU per call minus otel_sdk_span_us: capframe's
 *                               own part (event, queue, fields, OCSF text and
 *                               write, span attributes)
 *   ocsf_format_us              the OCSF text of one event alone (no write)
 */
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '@langchain/core/tools';
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import { Verifier } from '../src/index.ts';
import { Guard, guardTool, type DecisionEvent } from '../src/langchain/index.ts';
import { fileExportSink, otelSinkWith } from '../src/audit/index.ts';
import { ocsfFormatter } from '../src/audit/ocsf.ts';
import { eventFields } from '../src/audit/record.ts';
import { fmtUs, nowNs, round, summarize } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';
import { benchToken } from './support.ts';

interface Way {
  readonly name: string;
  readonly sink: (e: DecisionEvent) => void;
  readonly drain?: () => Promise<unknown>;
  readonly tool: ReturnType<typeof guardTool>;
  readonly total: number[];
  readonly call: number[];
  readonly cpu: number[];
}

/** An exporter that takes spans and drops them (the cost of a network exporter is the collector's, not capframe's). */
const dropSpans: SpanExporter = { export: (_s, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };

async function run(ctx: BenchContext): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-sinks-'));
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropSpans, { maxQueueSize: 100_000, maxExportBatchSize: 4096 })] });
  const meterProvider = new MeterProvider();
  api.trace.setGlobalTracerProvider(tracerProvider);
  api.metrics.setGlobalMeterProvider(meterProvider);
  try {
    const { authority, holder, token } = benchToken('noop://bench/*');
    const policies = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };
    const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 5_000_000 });
    const ocsf = fileExportSink({ path: join(dir, 'ocsf.jsonl'), maxQueue: 1_000_000 });
    const otel = otelSinkWith(api, { maxQueue: 1_000_000 });
    const policy = { verifier, policies };
    const schema = z.object({ id: z.string() });
    const noop = () => tool(async () => 'ok', { name: 'noop', description: 'no-op', schema });
    const drainOcsf = () => ocsf.flush(60_000);
    const drainOtel = async () => {
      await otel.flush();
      await tracerProvider.forceFlush();
    };
    const ways: Way[] = [
      { name: 'off', sink: (_e: DecisionEvent) => {} },
      { name: 'on', sink: (e: DecisionEvent) => (ocsf(e), otel(e)), drain: async () => (await drainOcsf(), await drainOtel()) },
      { name: 'ocsf', sink: (e: DecisionEvent) => ocsf(e), drain: drainOcsf },
      { name: 'otel', sink: (e: DecisionEvent) => otel(e), drain: drainOtel },
    ].map((w) => ({ ...w, tool: guardTool(noop(), new Guard({ ...policy, sink: w.sink })), total: [], call: [], cpu: [] }));
    const runCfg = { configurable: { capframe: { token, holderKey: holder } } };
    let seq = 0;
    /** One round of n sequential calls: call-path time, time with the drain, and CPU (main thread and helpers) per call. */
    const round1 = async (w: Way, n: number): Promise<void> => {
      const c0 = process.cpuUsage();
      const t0 = nowNs();
      for (let i = 0; i < n; i++) {
        const r = await w.tool.invoke({ name: 'noop', args: { id: 'x' }, id: `s-${seq++}`, type: 'tool_call' }, runCfg as never);
        if ((r as { status?: string }).status === 'error') throw new Error('bench: guarded call denied');
      }
      const t1 = nowNs();
      if (w.drain) await w.drain();
      const t2 = nowNs();
      const c = process.cpuUsage(c0);
      w.call.push(Number(t1 - t0) / 1000 / n);
      w.total.push(Number(t2 - t0) / 1000 / n);
      w.cpu.push((c.user + c.system) / n);
    };
    const perRound = ctx.quick ? 1_000 : 4_000;
    const rounds = ctx.quick ? 4 : 20;
    for (const w of ways) await round1(w, perRound);
    for (const w of ways) w.total.length = w.call.length = w.cpu.length = 0;
    for (let r = 0; r < rounds; r++) for (let k = 0; k < ways.length; k++) await round1(ways[(r + k) % ways.length]!, perRound);

    // The OTel SDK's own work for the same span, without capframe: a span with the same
    // attributes, parent and explicit times, through the same provider, then its export.
    const tracer = api.trace.getTracer('bench-bare');
    const counter = api.metrics.getMeter('bench-bare').createCounter('bench.decisions');
    const attrs = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'noop',
      'capframe.decision': 'allow',
      'capframe.chain': ['00112233445566778899aabbccddeeff'],
      'gen_ai.tool.call.id': 's-1234567',
      'capframe.subject': 'agent:bench',
      'capframe.operation': 'read',
      'capframe.resource': 'noop://bench/x',
      'capframe.args_digest': 'ab'.repeat(32),
      'capframe.mode': 'local',
    };
    const labels = { 'capframe.decision': 'allow', 'capframe.code': 'OK', 'gen_ai.tool.name': 'noop' };
    const sdkCpu: number[] = [];
    const parent = api.context.active();
    for (let r = 0; r < 1 + rounds / 2; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < perRound; i++) {
        const end = Date.now();
        tracer.startSpan('execute_tool noop', { kind: api.SpanKind.INTERNAL, attributes: { ...attrs }, startTime: end }, parent).end(end);
      }
      counter.add(perRound, labels);
      await tracerProvider.forceFlush();
      const c = process.cpuUsage(c0);
      if (r > 0) sdkCpu.push((c.user + c.system) / perRound);
    }
    // capframe's OCSF text alone (no file write) for one guard event.
    const sample: DecisionEvent = {
      ts: new Date().toISOString(),
      decision: 'allow',
      code: 'OK',
      tool: 'noop',
      operation: 'read',
      resource: 'noop://bench/x',
      argsDigest: 'ab'.repeat(32),
      callId: 's-1234567',
      subject: 'agent:bench',
      tokenIds: ['00112233445566778899aabbccddeeff'],
      mode: 'local',
      via: 'tool',
    };
    const fmt = ocsfFormatter();
    const fmtCpu: number[] = [];
    for (let r = 0; r < 6; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < 50_000; i++) fmt(eventFields(sample), 1e12 + i);
      const c = process.cpuUsage(c0);
      if (r > 0) fmtCpu.push((c.user + c.system) / 50_000);
    }

    const kp = generateKeyPairSync('ed25519');
    const msg = Buffer.alloc(200, 7);
    const sig = nodeSign(null, msg, kp.privateKey);
    const verifies: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t0 = nowNs();
      for (let i = 0; i < 1000; i++) nodeVerify(null, msg, kp.publicKey, sig);
      verifies.push(Number(nowNs() - t0) / 1000 / 1000);
    }
    const verifyUs = summarize(verifies).p50;
    const p50 = (xs: number[]) => summarize(xs).p50;
    const way = (n: string) => ways.find((w) => w.name === n)!;
    const off = way('off');
    const offTotal = p50(off.total);
    const offCall = p50(off.call);
    const offCpu = p50(off.cpu);
    const overhead = p50(way('on').total) - offTotal;
    const sdkSpanUs = p50(sdkCpu);
    const ocsfFormatUs = p50(fmtCpu);
    const metrics: Record<string, number> = {
      sink_off_call_us: round(offTotal),
      sink_on_call_us: round(p50(way('on').total)),
      sink_overhead_us: round(overhead),
      sink_overhead_x_verify: round(overhead / verifyUs),
      sink_native_verify_us: round(verifyUs),
      sink_dropped: ocsf.stats.dropped + otel.stats.dropped,
      otel_sdk_span_us: round(sdkSpanUs),
      ocsf_format_us: round(ocsfFormatUs),
    };
    const rows: BenchRow[] = [
      { name: 'guarded call, sinks off (p50 of round means)', value: fmtUs(offTotal) },
      { name: 'guarded call, OCSF file + OTel SDK on, drain included', value: fmtUs(p50(way('on').total)) },
      {
        name: 'sink_overhead_us: on minus off per call, drain included',
        value: `${fmtUs(overhead)} (${round(overhead / verifyUs, 3)} x verify)`,
        target: '<= 0.05 x verify',
        ok: overhead <= 0.05 * verifyUs,
      },
    ];
    // Per configuration: latency added on the call path (the drain runs after the calls), and
    // CPU per call including the drain; for OTel, the SDK's own span and export work beside it.
    for (const [key, label] of [
      ['on', 'OCSF + OTel'],
      ['ocsf', 'OCSF file only'],
      ['otel', 'OTel only'],
    ] as const) {
      const w = way(key);
      const callPath = p50(w.call) - offCall;
      const total = p50(w.total) - offTotal;
      const cpu = p50(w.cpu) - offCpu;
      const k = key === 'on' ? '' : `_${key}`;
      metrics[`sink${k}_call_path_us`] = round(callPath);
      metrics[`sink${k}_with_drain_us`] = round(total);
      metrics[`sink${k}_cpu_us`] = round(cpu);
      const sdk = key === 'ocsf' ? 0 : sdkSpanUs;
      metrics[`sink${k}_capframe_cpu_us`] = round(cpu - sdk);
      rows.push({
        name: `${label}: call path +${fmtUs(callPath)}, with drain +${fmtUs(total)}, CPU +${fmtUs(cpu)} per call`,
        value:
          key === 'ocsf' ? `capframe ${fmtUs(cpu)} (OCSF text alone ${fmtUs(ocsfFormatUs)})` : `capframe ${fmtUs(cpu - sdk)} + OTel SDK span ${fmtUs(sdk)}`,
        target: 'capframe part <= 0.05 x verify',
        ok: cpu - sdk <= 0.05 * verifyUs,
      });
    }
    await ocsf.close();
    await otel.close();
    return { metrics, rows };
  } finally {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    api.trace.disable();
    api.metrics.disable();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sinksSuite: Suite = { name: 'sinks', default: false, run };
