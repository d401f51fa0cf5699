/**
 * Timing helpers shared by the benchmark suites.
 *
 * Cases registered with `Comparison` are measured side by side: the run is
 * split into rounds and every round runs every case for a slice of its
 * iterations, in turn. Noise from the machine (other processes, CPU
 * frequency, GC) then hits all cases alike, which keeps the ratios between
 * them (the targets) meaningful. Every sample is one call timed with
 * process.hrtime.bigint().
 */
import { cpus, totalmem } from 'node:os';

/** Nanoseconds, monotonic. */
export const nowNs = (): bigint => process.hrtime.bigint();

/** Microseconds between two nowNs() readings. */
export const elapsedUs = (start: bigint, end: bigint = nowNs()): number => Number(end - start) / 1000;

/** Percentile (0..100) of the samples, nearest-rank on a sorted copy. NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  let s = 0;
  for (const x of samples) s += x;
  return s / samples.length;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: mean(samples),
    min: samples.length ? Math.min(...samples) : NaN,
  };
}

/**
 * One measured operation. `prepare` (optional) runs untimed before each
 * call and returns that call's input (for example a proof made beforehand, or
 * a cleared cache); `run` is the timed call.
 */
export interface Case<T = unknown> {
  readonly name: string;
  readonly prepare?: (i: number) => T;
  readonly run: (input: T, i: number) => unknown;
}

export interface CompareOptions {
  /** Untimed calls per case before measuring. */
  readonly warmup: number;
  /** Timed calls per case. */
  readonly iterations: number;
  /** Number of interleaved rounds the iterations are split into. */
  readonly rounds: number;
}

/** Measures several cases side by side (interleaved rounds); returns samples in microseconds per case. */
export async function compare(cases: readonly Case<any>[], o: CompareOptions): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const counters = new Map<string, number>(cases.map((c) => [c.name, 0]));
  const step = async (c: Case<any>, timed: boolean): Promise<void> => {
    const i = counters.get(c.name)!;
    counters.set(c.name, i + 1);
    const input = c.prepare ? c.prepare(i) : undefined;
    const t0 = nowNs();
    const r = c.run(input, i);
    if (r instanceof Promise) await r;
    const t1 = nowNs();
    if (timed) samples.get(c.name)!.push(Number(t1 - t0) / 1000);
  };
  // Warm up every case (JIT, caches) before any timing.
  for (const c of cases) for (let i = 0; i < o.warmup; i++) await step(c, false);
  const rounds = Math.max(1, o.rounds);
  const perRound = Math.max(1, Math.ceil(o.iterations / rounds));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const left = o.iterations - samples.get(c.name)!.length;
      for (let i = 0; i < Math.min(perRound, left); i++) await step(c, true);
    }
  }
  return samples;
}

/** Node version, CPU model and count, memory: printed with every run. */
export function machineInfo(): string {
  const c = cpus();
  const model = c[0]?.model?.trim() ?? 'unknown cpu';
  return `node ${process.version} (${process.platform}/${process.arch}), ${c.length} x ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`;
}

/** Formats microseconds for the table. */
export function fmtUs(us: number): string {
  return `${us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0)} us`;
}

/** Rounds a metric for the JSON object (3 significant decimals is plenty). */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
