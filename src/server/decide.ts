/**
 * From a validated request to an audited decision: the verifier decides,
 * the audit sink records (all lines of one request in one write when it
 * can), and an allow whose line could not be written becomes a denial.
 */
import { UnavailableError } from '../errors.ts';
import type { Decision, Verifier } from '../verify/verifier.ts';
import { verifyInvocationSync } from '../verify/sync.ts';
import type { Invocation } from '../token/invocation.ts';
import type { Metrics } from './metrics.ts';

/** Anything that takes decision events: an AuditLog, a function, a LangChain DecisionSink. */
export type EventSink =
  | ((event: Record<string, unknown>) => unknown)
  | { write(event: Record<string, unknown>): unknown; writeMany?(events: readonly Record<string, unknown>[]): unknown };

/** A validated request; `args` stays the caller's own object (JSON.parse output). */
export type Item = {
  token: string;
  invocation: string | Invocation;
  tool: string;
  args: Record<string, unknown>;
  operation: string;
  resource: string;
  approvals?: string[] | undefined;
};

export interface Decider {
  /** One validated request to its decision (not audited yet). Never throws. */
  check(r: Item): Decision | Promise<Decision>;
  /**
   * Audits and counts decisions, in order. Lines of one request are written
   * together before any of them is answered; if writing fails, every allow
   * among them becomes ERR_UNAVAILABLE.
   */
  settle(decisions: Decision[], t0s: bigint[]): Promise<Decision[]>;
}

/** Writes events one by one through a single-event sink, waiting for each when it is asynchronous. */
async function writeEach(events: Record<string, unknown>[], write: (e: Record<string, unknown>) => unknown): Promise<void> {
  for (const e of events) {
    const w = write(e);
    if (w instanceof Promise) await w;
  }
}

/** An allow whose audit line could not be written becomes a denial. */
function auditFailed(d: Decision, e: unknown): Decision {
  if (!d.allowed) return d;
  const error = new UnavailableError('the audit log cannot be written; call denied', { cause: e });
  const { grant: _g, expiresAt: _e, ...rest } = d;
  return { ...rest, allowed: false, code: error.code, reason: error.message, error };
}

export function createDecider(
  verifier: Verifier,
  metrics: Metrics,
  audit: EventSink | undefined,
  exports: readonly ((event: Record<string, unknown>) => void)[] = [],
  recent?: (d: Decision) => void,
): Decider {
  // The audit writer, chosen once: all lines of a request in one call when the sink can (AuditLog.writeMany).
  const writeEvents: ((events: Record<string, unknown>[]) => unknown) | null =
    audit === undefined
      ? null
      : typeof audit === 'function'
        ? (events) => writeEach(events, audit)
        : typeof audit.writeMany === 'function'
          ? (events) => audit.writeMany!(events)
          : (events) => writeEach(events, (e) => audit.write(e));

  return {
    check(r) {
      // The token as text: the verifier caches verified chains by their text.
      return verifier[verifyInvocationSync](r.token, r.invocation, {
        tool: r.tool,
        args: r.args,
        operation: r.operation,
        resource: r.resource,
        ...(r.approvals ? { approvals: r.approvals } : {}),
      });
    },
    async settle(decisions, t0s) {
      const now = process.hrtime.bigint();
      const seconds = t0s.map((t0) => Number(now - t0) / 1e9);
      const events = writeEvents || exports.length > 0 ? decisions.map((d, i) => ({ ...d, source: 'service', latencyMs: seconds[i]! * 1000 })) : [];
      if (writeEvents) {
        try {
          const w = writeEvents(events);
          if (w instanceof Promise) await w;
        } catch (e) {
          metrics.rejected('audit_failed');
          decisions = decisions.map((d) => auditFailed(d, e));
          events.forEach((ev, i) => Object.assign(ev, decisions[i]));
        }
      }
      for (const x of exports) {
        for (const ev of events) {
          try {
            x(ev);
          } catch {
            // an export never changes a decision
          }
        }
      }
      decisions.forEach((d, i) => metrics.decision(d.allowed, d.allowed ? undefined : d.code, seconds[i]!));
      // The console's ring (one array store each); it shapes them later, off the call.
      if (recent) for (const d of decisions) recent(d);
      return decisions;
    },
  };
}
