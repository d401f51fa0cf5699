/** What every benchmark suite module exports (bench/<name>.ts). */
export interface BenchContext {
  /** Fewer iterations (used by a smoke test); numbers are then only indicative. */
  readonly quick: boolean;
}

export interface BenchRow {
  readonly name: string;
  /** Measured value as printed, e.g. `104.2 us`. */
  readonly value: string;
  /** Target as printed, e.g. `<= 1.5 x (sign + verify)`; empty when there is none. */
  readonly target?: string;
  /** Whether the target holds; undefined when there is none. */
  readonly ok?: boolean;
}

export interface BenchResult {
  /** Flat numbers for `npm run bench -- --json` (keys as named in the issues). */
  readonly metrics: Record<string, number>;
  readonly rows: readonly BenchRow[];
}

export interface Suite {
  readonly name: string;
  /** Whether `npm run bench` without --suite runs it (long suites say false). */
  readonly default: boolean;
  run(ctx: BenchContext): Promise<BenchResult>;
}
