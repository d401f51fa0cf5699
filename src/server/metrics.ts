/** Prometheus text exposition (format 0.0.4) of the service's counters; no dependency. */

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class Metrics {
  readonly started = Date.now();
  /** "allow|" or "deny|ERR_…" -> count */
  readonly #decisions = new Map<string, number>();
  /** "route status" -> count */
  readonly #requests = new Map<string, number>();
  /** reason -> count */
  readonly #rejected = new Map<string, number>();
  readonly #bucketCounts = new Array<number>(BUCKETS.length).fill(0);
  #latencySum = 0;
  #latencyCount = 0;
  auditHead: { seq: number } | null = null;
  auditCheckpoint: { last: { seq: number; at: number } | null; failures: number } | null = null;
  exports: readonly { readonly name: string; readonly stats: { sent: number; dropped: number; errors: number; readonly queued: number } }[] = [];
  /** Live sessions and their estimated bytes, and the session counts (set when sessions are on). */
  sessions: { stats(): { sessions: number; bytes: number }; readonly counts: Readonly<Record<string, number>> } | null = null;
  /** Open session streams (set when sessions are on). */
  sessionStreams: { readonly open: number } | null = null;
  /** The web console's streams, logins and ring overruns (set when the console is on). */
  console: { readonly streams: { clients: number; dropped: number; refused: number }; readonly sessions: number; readonly lost: number } | null = null;
  inFlight = 0;

  decision(allowed: boolean, code: string | undefined, seconds: number): void {
    const key = allowed ? 'allow|' : `deny|${code ?? 'ERR_INTERNAL'}`;
    this.#decisions.set(key, (this.#decisions.get(key) ?? 0) + 1);
    this.#latencySum += seconds;
    this.#latencyCount++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.#bucketCounts[i]!++;
  }

  request(route: string, status: number): void {
    const key = `${route} ${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  rejected(reason: string): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
  }

  /** Number of decisions with this code ("allow" for allowed). */
  count(code: string): number {
    return code === 'allow' ? (this.#decisions.get('allow|') ?? 0) : (this.#decisions.get(`deny|${code}`) ?? 0);
  }

  render(): string {
    const out: string[] = [];
    out.push('# HELP capframe_decisions_total Verification decisions by outcome and error code.');
    out.push('# TYPE capframe_decisions_total counter');
    for (const [key, n] of [...this.#decisions].sort()) {
      const [decision, code] = key.split('|') as [string, string];
      out.push(`capframe_decisions_total{decision="${decision}",code="${esc(code || 'OK')}"} ${n}`);
    }
    out.push('# HELP capframe_verify_duration_seconds Time to decide one /v1/verify request (body parsed to decision).');
    out.push('# TYPE capframe_verify_duration_seconds histogram');
    BUCKETS.forEach((b, i) => out.push(`capframe_verify_duration_seconds_bucket{le="${b}"} ${this.#bucketCounts[i]}`));
    out.push(`capframe_verify_duration_seconds_bucket{le="+Inf"} ${this.#latencyCount}`);
    out.push(`capframe_verify_duration_seconds_sum ${this.#latencySum}`);
    out.push(`capframe_verify_duration_seconds_count ${this.#latencyCount}`);
    out.push('# HELP capframe_http_requests_total HTTP requests by route and status.');
    out.push('# TYPE capframe_http_requests_total counter');
    for (const [key, n] of [...this.#requests].sort()) {
      const [route, status] = key.split(' ') as [string, string];
      out.push(`capframe_http_requests_total{route="${esc(route)}",status="${status}"} ${n}`);
    }
    out.push('# HELP capframe_rejected_requests_total Requests refused before any verification, by reason.');
    out.push('# TYPE capframe_rejected_requests_total counter');
    for (const [reason, n] of [...this.#rejected].sort()) out.push(`capframe_rejected_requests_total{reason="${esc(reason)}"} ${n}`);
    out.push('# HELP capframe_requests_in_flight Requests being handled.');
    out.push('# TYPE capframe_requests_in_flight gauge');
    out.push(`capframe_requests_in_flight ${this.inFlight}`);
    if (this.auditHead) {
      out.push('# HELP capframe_audit_seq Sequence number of the last audit line written.');
      out.push('# TYPE capframe_audit_seq gauge');
      out.push(`capframe_audit_seq ${this.auditHead.seq}`);
    }
    if (this.auditCheckpoint) {
      out.push('# HELP capframe_audit_checkpoint_seq Sequence number of the last line covered by a signed audit checkpoint (0: none yet).');
      out.push('# TYPE capframe_audit_checkpoint_seq gauge');
      out.push(`capframe_audit_checkpoint_seq ${this.auditCheckpoint.last?.at ?? 0}`);
      out.push('# HELP capframe_audit_checkpoint_failures_total Checkpoints that could not be signed or written.');
      out.push('# TYPE capframe_audit_checkpoint_failures_total counter');
      out.push(`capframe_audit_checkpoint_failures_total ${this.auditCheckpoint.failures}`);
    }
    if (this.exports.length > 0) {
      for (const [metric, help, kind, pick] of [
        ['capframe_export_sent_total', 'Decisions handed to an export transport.', 'counter', (x: ExportStatsView) => x.sent],
        [
          'capframe_export_dropped_total',
          'Decisions dropped by an export sink whose queue was full (receiver slow or away).',
          'counter',
          (x: ExportStatsView) => x.dropped,
        ],
        ['capframe_export_errors_total', 'Export transport errors.', 'counter', (x: ExportStatsView) => x.errors],
        ['capframe_export_queued', 'Decisions waiting in an export queue.', 'gauge', (x: ExportStatsView) => x.queued],
      ] as const) {
        out.push(`# HELP ${metric} ${help}`);
        out.push(`# TYPE ${metric} ${kind}`);
        for (const e of this.exports) out.push(`${metric}{sink="${esc(e.name)}"} ${pick(e.stats)}`);
      }
    }
    if (this.sessions) {
      const st = this.sessions.stats();
      out.push('# HELP capframe_sessions Live sessions (docs/spec.md §13).');
      out.push('# TYPE capframe_sessions gauge');
      out.push(`capframe_sessions ${st.sessions}`);
      out.push('# HELP capframe_session_bytes Estimated heap bytes held by sessions and outstanding nonces.');
      out.push('# TYPE capframe_session_bytes gauge');
      out.push(`capframe_session_bytes ${st.bytes}`);
      out.push(
        '# HELP capframe_session_events_total Sessions opened, refused (caps, rate limit), evicted (per-holder cap), expired, ended by revocation; calls naming no live session (unknown: the client re-handshakes and retries once).',
      );
      out.push('# TYPE capframe_session_events_total counter');
      for (const [k, n] of Object.entries(this.sessions.counts)) out.push(`capframe_session_events_total{event="${esc(k)}"} ${n}`);
      if (this.sessionStreams) {
        out.push('# HELP capframe_session_streams Open session streams (docs/spec.md §13.7.1).');
        out.push('# TYPE capframe_session_streams gauge');
        out.push(`capframe_session_streams ${this.sessionStreams.open}`);
      }
    }
    if (this.console) {
      const c = this.console;
      for (const [metric, help, kind, v] of [
        ['capframe_console_streams', 'Open live-decision streams of the web console.', 'gauge', c.streams.clients],
        ['capframe_console_streams_dropped_total', 'Console streams closed because the reader fell too far behind.', 'counter', c.streams.dropped],
        ['capframe_console_streams_refused_total', 'Console streams refused (all streams, or those of one address, in use).', 'counter', c.streams.refused],
        ['capframe_console_sessions', 'Live console logins.', 'gauge', c.sessions],
        ['capframe_console_decisions_lost_total', 'Decisions overwritten in the console ring before the console took them off.', 'counter', c.lost],
      ] as const) {
        out.push(`# HELP ${metric} ${help}`);
        out.push(`# TYPE ${metric} ${kind}`);
        out.push(`${metric} ${v}`);
      }
    }
    const mem = process.memoryUsage();
    out.push('# HELP process_resident_memory_bytes Resident memory size in bytes.');
    out.push('# TYPE process_resident_memory_bytes gauge');
    out.push(`process_resident_memory_bytes ${mem.rss}`);
    out.push('# HELP process_start_time_seconds Start time of the service since the unix epoch, seconds.');
    out.push('# TYPE process_start_time_seconds gauge');
    out.push(`process_start_time_seconds ${Math.floor(this.started / 1000)}`);
    return out.join('\n') + '\n';
  }
}

type ExportStatsView = { sent: number; dropped: number; errors: number; readonly queued: number };
