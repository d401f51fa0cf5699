/**
 * Decision events: one per guarded tool call, allowed or denied. Events carry
 * ids and digests only: never a token, a key or the raw arguments.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { ErrorCode } from '../errors.ts';

/** Optional fields may be present with the value undefined (JSON output omits them). */
export interface DecisionEvent {
  /** Event time, ISO 8601. */
  readonly ts: string;
  readonly decision: 'allow' | 'deny';
  /** `OK` when allowed, else the denial code. */
  readonly code: ErrorCode | 'OK';
  /** Short reason for a denial. */
  readonly reason?: string;
  readonly tool: string;
  readonly operation?: string;
  readonly resource?: string;
  /** Hex digest of the canonical arguments (docs/spec.md §4.3). */
  readonly argsDigest?: string;
  readonly callId?: string;
  /** Subject of the token's last block, e.g. `agent:support`. */
  readonly subject?: string;
  /** Block ids of the token chain, root first. */
  readonly tokenIds?: readonly string[];
  /** `local` (in-process check), `signed` (invocation proof) or `none` (denied before any check). */
  readonly mode: 'local' | 'signed' | 'session' | 'none';
  /** Which layer decided: a guarded tool or the agent middleware. */
  readonly via: 'tool' | 'middleware';
}

/** Receives every decision. May be async; a sink that throws or rejects never changes the decision. */
export type DecisionSink = (event: DecisionEvent) => void | Promise<void>;

export interface JsonLinesSink extends DecisionSink {
  /** Writes whatever is buffered, synchronously. */
  flush(): void;
  /** Flushes and closes the file (no-op for stderr). */
  close(): void;
}

/**
 * Default sink: one JSON object per line, appended to `path` (created with
 * mode 0600) or written to stderr. Lines are buffered and written once per
 * turn of the event loop, and flushed at process exit.
 */
export function jsonLinesSink(options: { path?: string; fd?: number } = {}): JsonLinesSink {
  let fd = options.fd ?? (options.path !== undefined ? openSync(options.path, 'a', 0o600) : 2);
  const owned = options.fd === undefined && options.path !== undefined;
  let buf: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (buf.length === 0 || fd < 0) return;
    const text = buf.join('');
    buf = [];
    try {
      writeSync(fd, text);
    } catch {
      // an audit sink must not take the agent down; the decision stands
    }
  };
  const onExit = (): void => flush();
  process.once('exit', onExit);
  const sink = ((event: DecisionEvent): void => {
    buf.push(JSON.stringify(event) + '\n');
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }) as JsonLinesSink;
  sink.flush = flush;
  sink.close = () => {
    flush();
    process.removeListener('exit', onExit);
    if (owned && fd >= 0) closeSync(fd);
    fd = -1;
  };
  return sink;
}

/** A sink that keeps events in memory (tests, demos). */
export function memorySink(): DecisionSink & { readonly events: DecisionEvent[] } {
  const events: DecisionEvent[] = [];
  const sink = ((e: DecisionEvent) => {
    events.push(e);
  }) as DecisionSink & { events: DecisionEvent[] };
  sink.events = events;
  return sink;
}

/** Sends each event to every sink. */
export function teeSink(...sinks: DecisionSink[]): DecisionSink {
  return (e) => {
    for (const s of sinks) emit(s, e);
  };
}

/** Calls a sink without letting it throw or reject into the caller. */
export function emit(sink: DecisionSink | undefined, e: DecisionEvent): void {
  if (!sink) return;
  try {
    const r = sink(e);
    if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
  } catch {
    // ignored: see DecisionSink
  }
}
