/**
 * Sinks suite: what decision export costs per guarded call.
 *
 * The same guarded no-op tool call (in-process check) with the guard's sink
 * off, and with the OCSF file export plus OpenTelemetry (a real SDK tracer
 * provider with a batch span processor, and a meter provider) on. Calls run
 * in alternating rounds of N; each round with sinks ends by waiting for the
 * export queue to drain, so the deferred formatting and writing is inside
 * the measured time, not only the enqueue. sink_overhead_us is the difference
 * per call, beside one native Ed25519 verify measured in the same run.
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
import { generateKey, issueToken, Verifier } from '../src/index.ts';
import { Guard, guardTool, type DecisionEvent } from '../src/langchain/index.ts';
import { fileExportSink, otelSinkWith } from '../src/audit/index.ts';
import { fmtUs, nowNs, round, summarize } from './stats.ts';
import type { BenchContext, BenchResult, Suite } from './suite.ts';

/** An exporter that takes spans and drops them (the cost of a network exporter is the collector's, not capframe's). */
const dropSpans: SpanExporter = { export: (_s, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };

async function run(ctx: BenchContext): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-sinks-'));
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropSpans, { maxQueueSize: 100_000, maxExportBatchSize: 4096 })] });
  const meterProvider = new MeterProvider();
  api.trace.setGlobalTracerProvider(tracerProvider);
  api.metrics.setGlobalMeterProvider(meterProvider);
  try {
    const authority = generateKey();
    const holder = generateKey();
    const token = issueToken({ key: authority, subject: 'agent:bench', holder: holder.publicKey, ttl: '1h', grants: [{ resource: 'noop://bench/*', permissions: ['read'] }] });
    const policies = { noop: { resource: 'noop://bench/{id}', operation: 'read' } };
    const verifier = new Verifier({ trusted: [authority.publicKey], replayCapacity: 5_000_000 });
    const ocsf = fileExportSink({ path: join(dir, 'ocsf.jsonl'), maxQueue: 1_000_000 });
    const otel = otelSinkWith(api);
    const off = new Guard({ verifier, sink: (_e: DecisionEvent) => {}, policies });
    const on = new Guard({
      verifier,
      sink: (e: DecisionEvent) => {
        ocsf(e);
        otel(e);
      },
      policies,
    });
    const schema = z.object({ id: z.string() });
    const noop = () => tool(async () => 'ok', { name: 'noop', description: 'no-op', schema });
    const tOff = guardTool(noop(), off);
    const tOn = guardTool(noop(), on);
    const runCfg = { configurable: { capframe: { token, holderKey: holder } } };
    let seq = 0;
    const round1 = async (t: typeof tOff, n: number, drain: boolean): Promise<number> => {
      const t0 = nowNs();
      for (let i = 0; i < n; i++) {
        const r = await t.invoke({ name: 'noop', args: { id: 'x' }, id: `s-${seq++}`, type: 'tool_call' }, runCfg as never);
        if ((r as { status?: string }).status === 'error') throw new Error('bench: guarded call denied');
      }
      if (drain) {
        await ocsf.flush(60_000);
        await tracerProvider.forceFlush();
      }
      return Number(nowNs() - t0) / 1000 / n;
    };
    const perRound = ctx.quick ? 1_000 : 5_000;
    const rounds = ctx.quick ? 4 : 20;
    await round1(tOff, perRound, false);
    await round1(tOn, perRound, true);
    const offUs: number[] = [];
    const onUs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        offUs.push(await round1(tOff, perRound, false));
        onUs.push(await round1(tOn, perRound, true));
      } else {
        onUs.push(await round1(tOn, perRound, true));
        offUs.push(await round1(tOff, perRound, false));
      }
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
    const offP50 = summarize(offUs).p50;
    const onP50 = summarize(onUs).p50;
    const overhead = onP50 - offP50;
    await ocsf.close();
    return {
      metrics: {
        sink_off_call_us: round(offP50),
        sink_on_call_us: round(onP50),
        sink_overhead_us: round(overhead),
        sink_overhead_x_verify: round(overhead / verifyUs),
        sink_native_verify_us: round(verifyUs),
        sink_dropped: ocsf.stats.dropped,
      },
      rows: [
        { name: 'guarded call, sinks off (p50 of round means)', value: fmtUs(offP50) },
        { name: 'guarded call, OCSF file + OTel SDK on', value: fmtUs(onP50) },
        { name: 'sink overhead per call', value: `${fmtUs(overhead)} (${round(overhead / verifyUs, 3)} x verify)`, target: '<= 0.05 x verify', ok: overhead <= 0.05 * verifyUs },
      ],
    };
  } finally {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    api.trace.disable();
    api.metrics.disable();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sinksSuite: Suite = { name: 'sinks', default: false, run };
